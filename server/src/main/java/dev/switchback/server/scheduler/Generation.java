package dev.switchback.server.scheduler;

import dev.switchback.kernels.engine.Sequence;
import dev.switchback.kernels.sampling.Sampler;
import dev.switchback.kernels.sampling.TokenHistory;
import dev.switchback.server.generation.GenerationListener;
import dev.switchback.server.generation.GenerationService;
import java.util.Arrays;

/**
 * One request as the scheduler tracks it. Its tokens (prompt, then generated) outlive its KV cache: a preempted
 * generation drops its {@link Sequence} and later recomputes the same tokens, keeping its sampler (and so its
 * random stream) and its text stream, so the output is what it would have been. Only the scheduler thread
 * touches it, except {@link #cancel()}.
 */
final class Generation implements GenerationService.Handle {
    final String id;
    final int promptLength;
    final int maxTokens;
    final GenerationListener listener;
    final Sampler sampler;
    final TokenHistory history = new TokenHistory();
    final TokenStream text;
    final long submittedNanos;
    /** How long after submission the request fails; 0 for never. */
    final long timeoutNanos;
    /** Runs once when the generation ends (the service unpins its model). */
    final Runnable onEnd;
    private final Runnable wake;
    private volatile boolean cancelled;

    private int[] tokens;
    private int length;
    /** The KV cache while admitted, null while waiting. */
    Sequence sequence;
    boolean admittedBefore;
    boolean promptCached;
    boolean listenerFailed; // a listener call threw: the request hears nothing more and ends at the next sweep
    long lastTokenNanos;
    private boolean ended;

    Generation(String id, int[] prompt, int maxTokens, GenerationListener listener, Sampler sampler, TokenStream text,
            long submittedNanos, long timeoutNanos, Runnable onEnd, Runnable wake) {
        this.id = id;
        this.promptLength = prompt.length;
        this.maxTokens = maxTokens;
        this.listener = listener;
        this.sampler = sampler;
        this.text = text;
        this.submittedNanos = submittedNanos;
        this.timeoutNanos = timeoutNanos;
        this.onEnd = onEnd;
        this.wake = wake;
        this.tokens = Arrays.copyOf(prompt, prompt.length + Math.min(maxTokens, 256));
        this.length = prompt.length;
        history.addAll(prompt);
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public void cancel() {
        cancelled = true;
        wake.run();
    }

    boolean cancelled() {
        return cancelled;
    }

    /** Prompt and generated tokens. */
    int length() {
        return length;
    }

    int generated() {
        return length - promptLength;
    }

    /** The prompt and generated tokens (not a copy: read only). */
    int[] tokens() {
        return tokens;
    }

    /** Tokens not yet in the KV cache: 1 while decoding, more while (re)computing a prompt. */
    int pending() {
        return length - sequence.length();
    }

    /** The next {@code n} tokens to feed the engine. */
    int[] next(int n) {
        int from = sequence.length();
        return Arrays.copyOfRange(tokens, from, from + n);
    }

    void append(int token) {
        if (length == tokens.length) {
            tokens = Arrays.copyOf(tokens, tokens.length * 2);
        }
        tokens[length++] = token;
        history.add(token);
    }

    /** Frees the KV cache, if any; the generation can be admitted again and recompute its tokens. */
    void release() {
        if (sequence != null) {
            sequence.close();
            sequence = null;
        }
    }

    /** Frees everything; true the first time only, when the caller runs {@link #onEnd}. */
    boolean end() {
        release();
        if (ended) {
            return false;
        }
        ended = true;
        return true;
    }
}
