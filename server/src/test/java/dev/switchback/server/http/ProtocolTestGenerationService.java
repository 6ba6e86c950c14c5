package dev.switchback.server.http;

import dev.switchback.server.generation.GenerationException;
import dev.switchback.server.generation.GenerationException.Kind;
import dev.switchback.server.generation.GenerationListener;
import dev.switchback.server.generation.GenerationRequest;
import dev.switchback.server.generation.GenerationService;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A protocol test double of {@link GenerationService}, not an engine: it "generates" the prompt's own characters
 * back, one code point per token, on its own scheduler thread, so the HTTP layer can be checked byte for byte.
 *
 * <p>It honours {@code maxTokens} (finish "length") and stop strings (finish "stop", the stop string left out);
 * running out of prompt is "stop" too. Token i has log-probability {@code -(i+1)/8}. It can be told to refuse at
 * submission or fail after some tokens with any {@link Kind}, to hold its output until released, to pace its
 * tokens, and it records every submission and every {@link Handle#cancel()}.
 */
final class ProtocolTestGenerationService implements GenerationService {
    /** A loaded model with a chat template. */
    static final String ECHO = "echo";
    /** A loaded model without a chat template. */
    static final String PLAIN = "plain";
    /** A model in the store that is not loaded. */
    static final String SHELF = "shelf";
    static final String TEMPLATE = "<|{role}|>{content}\n";

    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "test-scheduler");
        t.setDaemon(true);
        return t;
    });
    private final Map<String, ModelCard> models = new LinkedHashMap<>();
    private final AtomicLong ids = new AtomicLong();

    final List<GenerationRequest> submitted = new CopyOnWriteArrayList<>();
    final BlockingQueue<String> cancelled = new LinkedBlockingQueue<>();
    final List<String> loads = new CopyOnWriteArrayList<>();
    final List<String> unloads = new CopyOnWriteArrayList<>();
    final AtomicBoolean shutDown = new AtomicBoolean();

    volatile boolean ready = true;
    /** Refuse submissions with this kind, once {@link #refuseFrom} have been accepted. */
    volatile Kind refuseWith;
    volatile int refuseFrom;
    /** Fail every generation with this kind after {@link #failAfterTokens} tokens. */
    volatile Kind failWith;
    volatile int failAfterTokens;
    /** Pause between tokens. */
    volatile Duration tokenDelay = Duration.ZERO;
    /** Deliver the last token's text as {@code Completion.remainingText} instead (as a held-back stop prefix would be). */
    volatile boolean holdBackLastText;
    /** Output waits for this gate (complete it to release). */
    volatile CompletableFuture<Void> gate = CompletableFuture.completedFuture(null);

    ProtocolTestGenerationService() {
        models.put(ECHO, new ModelCard(ECHO, 3, "dense", 1000, 1000, 4096, true, TEMPLATE));
        models.put(PLAIN, new ModelCard(PLAIN, 1, "switch", 8000, 1000, 4096, true, null));
        models.put(SHELF, new ModelCard(SHELF, 2, "hash", 8000, 1000, 4096, false, null));
    }

    /** Waits for the next cancel, up to {@code timeout}; null when none came. */
    String awaitCancel(Duration timeout) throws InterruptedException {
        return cancelled.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    @Override
    public Handle submit(GenerationRequest request, GenerationListener listener) {
        ModelCard card;
        synchronized (models) {
            card = models.get(request.model());
        }
        if (card == null) {
            throw new GenerationException(Kind.NOT_FOUND, "model " + request.model() + " not found", "model");
        }
        if (!card.loaded()) {
            throw new GenerationException(Kind.UNAVAILABLE, "model " + request.model() + " is not loaded", "model");
        }
        Kind refuse = refuseWith;
        if (refuse != null && submitted.size() >= refuseFrom) {
            throw new GenerationException(refuse, "test double refuses with " + refuse, null);
        }
        submitted.add(request);
        Run run = new Run("cmpl-test" + ids.incrementAndGet(), request, listener);
        gate.thenRun(() -> scheduler.execute(() -> run.step(0)));
        return run;
    }

    /** One generation: the prompt's code points, cut by max tokens and stop strings. */
    private final class Run implements Handle {
        private final String id;
        private final GenerationListener listener;
        private final List<String> tokens = new ArrayList<>();
        private final GenerationListener.FinishReason reason;
        private final int promptTokens;
        private final Kind failKind = failWith;
        private final int failAfter = failAfterTokens;
        private final long delayNanos = tokenDelay.toNanos();
        private final boolean holdBack = holdBackLastText;
        private volatile boolean stopped;

        Run(String id, GenerationRequest request, GenerationListener listener) {
            this.id = id;
            this.listener = listener;
            String prompt = request.prompt();
            this.promptTokens = prompt.codePointCount(0, prompt.length());
            int max = request.sampling().maxTokens();
            String output = prompt;
            for (String stop : request.sampling().stop()) {
                int at = output.indexOf(stop);
                if (at >= 0) {
                    output = output.substring(0, at);
                }
            }
            output.codePoints().limit(max).forEach(cp -> tokens.add(Character.toString(cp)));
            this.reason = output.codePointCount(0, output.length()) > max
                    ? GenerationListener.FinishReason.LENGTH
                    : GenerationListener.FinishReason.STOP;
        }

        void step(int from) {
            for (int i = from; !stopped; i++) {
                if (failKind != null && i == failAfter) {
                    stopped = true;
                    listener.onError(new GenerationException(failKind, "test double fails with " + failKind, null));
                    return;
                }
                if (i == tokens.size()) {
                    stopped = true;
                    String remaining = holdBack && !tokens.isEmpty() ? tokens.getLast() : "";
                    listener.onComplete(new GenerationListener.Completion(reason,
                            new GenerationListener.Usage(promptTokens, tokens.size()), remaining));
                    return;
                }
                String text = holdBack && i == tokens.size() - 1 ? "" : tokens.get(i);
                listener.onToken(new GenerationListener.TokenPiece(tokens.get(i).codePointAt(0), text, -(i + 1) / 8f));
                if (delayNanos > 0) {
                    int next = i + 1;
                    scheduler.schedule(() -> step(next), delayNanos, TimeUnit.NANOSECONDS);
                    return;
                }
            }
        }

        @Override
        public String id() {
            return id;
        }

        @Override
        public void cancel() {
            stopped = true;
            cancelled.add(id);
        }
    }

    @Override
    public List<ModelCard> models() {
        synchronized (models) {
            return List.copyOf(models.values());
        }
    }

    @Override
    public boolean ready() {
        return ready;
    }

    @Override
    public CompletableFuture<ModelCard> load(String name) {
        loads.add(name);
        return CompletableFuture.supplyAsync(() -> setLoaded(name, true), CompletableFuture.delayedExecutor(20, TimeUnit.MILLISECONDS));
    }

    @Override
    public CompletableFuture<Void> unload(String name) {
        unloads.add(name);
        return CompletableFuture.supplyAsync(() -> setLoaded(name, false), CompletableFuture.delayedExecutor(20, TimeUnit.MILLISECONDS))
                .thenApply(card -> null);
    }

    private ModelCard setLoaded(String name, boolean loaded) {
        synchronized (models) {
            ModelCard c = models.get(name);
            if (c == null) {
                throw new GenerationException(Kind.NOT_FOUND, "model " + name + " not found", "model");
            }
            ModelCard updated = new ModelCard(c.name(), c.version(), c.architecture(), c.totalParameters(),
                    c.activeParameters(), c.contextLength(), loaded, c.chatTemplate());
            models.put(name, updated);
            return updated;
        }
    }

    @Override
    public void shutdown(Duration grace) {
        shutDown.set(true);
        scheduler.shutdownNow();
    }
}
