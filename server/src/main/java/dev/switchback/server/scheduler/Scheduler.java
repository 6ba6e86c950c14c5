package dev.switchback.server.scheduler;

import dev.switchback.kernels.engine.Engine;
import dev.switchback.kernels.engine.Sequence;
import dev.switchback.kernels.engine.StepEngine;
import dev.switchback.kernels.kv.BlockPool;
import dev.switchback.kernels.kv.KvCacheFullException;
import dev.switchback.kernels.sampling.Sample;
import dev.switchback.kernels.sampling.Sampler;
import dev.switchback.kernels.sampling.SamplingParams;
import dev.switchback.server.generation.GenerationException;
import dev.switchback.server.generation.GenerationListener;
import dev.switchback.server.generation.GenerationListener.Completion;
import dev.switchback.server.generation.GenerationListener.FinishReason;
import dev.switchback.server.generation.GenerationListener.TokenPiece;
import dev.switchback.server.generation.GenerationListener.Usage;
import dev.switchback.server.generation.GenerationRequest;
import dev.switchback.server.generation.GenerationService;
import dev.switchback.server.metrics.ModelMetrics;
import dev.switchback.store.tokenizer.BpeTokenizer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Continuous batching for one model: a single thread owns the engine (native or ONNX Runtime, any
 * {@link StepEngine}) and its KV pool and, at every iteration,
 * admits waiting requests while KV blocks allow, runs one forward step mixing one token of every decoding
 * sequence with chunks of prompts being computed, samples, and streams text to each request's listener.
 *
 * <p>Other threads only submit, cancel and stop; they hand the scheduler thread commands through a queue, so
 * the engine, the pool and the prefix cache are never shared. When KV blocks run short, cached prefixes go
 * first, then the most recently admitted sequence is preempted: its blocks are freed and it waits at the front
 * of the queue to recompute its prompt and generated tokens, with its sampler state intact.
 */
public final class Scheduler {
    private static final System.Logger LOG = System.getLogger(Scheduler.class.getName());
    private static final String ID_PREFIX = "cmpl-" + Long.toString(System.currentTimeMillis(), 36) + "-";
    private static final AtomicLong NEXT_ID = new AtomicLong();
    private static final Runnable WAKE = () -> {};

    /**
     * The model runner stage: one engine step (a seam for tests that need the engine to fail), as
     * {@link StepEngine#launch}: rows marked greedy may come back as a token instead of logits.
     */
    interface ModelRunner {
        StepEngine.Launched launch(List<Engine.Step> steps, boolean[] greedy, int[] tokens);
    }

    /** A listener call waiting for {@link #deliver()}; {@code ending}: the generation has ended (no drop on failure). */
    private record Delivery(Generation generation, Consumer<GenerationListener> call, boolean ending) {}

    /**
     * The scheduler's state after its latest iteration, for health checks and tests.
     *
     * @param inFlight requests accepted and not yet ended (read when asked, the rest after the latest iteration)
     * @param waiting requests queued for admission, preempted ones included
     * @param prefixCachedBlocks KV blocks the prefix cache holds a reference to
     */
    public record Stats(int inFlight, int running, int waiting, int freeKvBlocks, int totalKvBlocks,
            int prefixCachedBlocks, long preemptions, long steps) {}

    private record Scheduled(Generation generation, int tokens) {}

    private final String model;
    private final StepEngine engine;
    private final ModelRunner runner;
    private final BpeTokenizer tokenizer;
    private final SchedulerOptions options;
    private final ModelMetrics metrics;
    private final BlockPool pool;
    private final PrefixCache prefixCache;
    private final int vocab;
    private final int contextLength;
    private final int endOfText;
    // Whether the engine's greedy token is one the tokenizer can decode (a padded embedding table is wider).
    private final boolean enginePicks;

    private final BlockingQueue<Runnable> inbox = new LinkedBlockingQueue<>();
    // Submitted and not admitted (preempted ones included): what maxWaiting bounds.
    private final AtomicInteger queued = new AtomicInteger();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final Object lifecycle = new Object();
    private boolean accepting = true; // guarded by lifecycle
    private final Thread thread;
    private final CompletableFuture<Void> terminated = new CompletableFuture<>();
    private volatile Stats stats;

    // Scheduler thread only.
    private final Deque<Generation> waiting = new ArrayDeque<>();
    private final List<Generation> running = new ArrayList<>(); // in admission order
    // Listener calls in the order they happened, made by deliver(): while a launched step computes on a GPU when it
    // can, so that waking the clients' event loops does not lengthen the step.
    private final ArrayDeque<Delivery> deliveries = new ArrayDeque<>();
    private boolean draining;
    private GenerationException abort;
    private long preemptions;
    private long steps;

    /** A scheduler over {@code engine}, which it closes when its thread ends. */
    public Scheduler(String model, StepEngine engine, BpeTokenizer tokenizer, SchedulerOptions options, ModelMetrics metrics) {
        this(model, engine, engine::launch, tokenizer, options, metrics);
    }

    Scheduler(String model, StepEngine engine, ModelRunner runner, BpeTokenizer tokenizer, SchedulerOptions options,
            ModelMetrics metrics) {
        this.model = Objects.requireNonNull(model, "model");
        this.engine = engine;
        this.runner = runner;
        this.tokenizer = tokenizer;
        this.options = Objects.requireNonNull(options, "options");
        this.metrics = metrics;
        this.pool = engine.kvPool();
        this.prefixCache = new PrefixCache(pool, options.prefixCacheBytes());
        // A padded embedding table may be wider than the tokenizer: never sample an id it cannot decode.
        this.vocab = Math.min(engine.config().vocabSize(), tokenizer.vocabSize());
        this.contextLength = engine.config().contextLength();
        this.endOfText = tokenizer.specialTokenId(BpeTokenizer.END_OF_TEXT).orElse(-1);
        this.enginePicks = engine.config().vocabSize() == vocab;
        this.thread = Thread.ofPlatform().name("scheduler-" + model).daemon().unstarted(this::loop);
        metrics.baseline(engine.expertStats());
        publish();
    }

    /** Starts the scheduler thread. */
    public Scheduler start() {
        thread.start();
        return this;
    }

    /**
     * Validates and queues a request. {@code onEnd} runs once, on the scheduler thread, when the accepted
     * generation ends in any way (completed, failed, cancelled); never when this method throws.
     *
     * @throws GenerationException INVALID_ARGUMENT for a prompt or max_tokens that does not fit, RESOURCE_EXHAUSTED
     *     when the waiting queue is full, UNAVAILABLE once the scheduler is stopping
     */
    public GenerationService.Handle submit(GenerationRequest request, GenerationListener listener, Runnable onEnd) {
        Objects.requireNonNull(listener, "listener");
        Objects.requireNonNull(onEnd, "onEnd");
        long now = System.nanoTime();
        SamplingParams sampling = request.sampling();
        int[] prompt = tokenizer.encode(request.prompt());
        int maxTokens = sampling.maxTokens();
        if (request.maxTokensDefaulted() && prompt.length > 0 && prompt.length < contextLength) {
            // The client set no limit: generate up to the server's default or to the end of the context, whichever
            // comes first, rather than refusing a default the client never asked for.
            maxTokens = Math.min(maxTokens, contextLength - prompt.length);
        }
        checkFits(prompt.length, maxTokens);
        Generation g = new Generation(ID_PREFIX + NEXT_ID.incrementAndGet(), prompt, maxTokens, listener,
                new Sampler(sampling, request.logprobs()), new TokenStream(tokenizer, sampling.stop()), now,
                timeoutNanos(request.timeout()),
                onEnd, this::wake);
        synchronized (lifecycle) {
            if (!accepting) {
                throw new GenerationException(GenerationException.Kind.UNAVAILABLE,
                        "model '" + model + "' is stopping (unloaded or evicted) and takes no new requests", "model");
            }
            if (queued.incrementAndGet() > options.maxWaiting()) {
                queued.decrementAndGet();
                throw new GenerationException(GenerationException.Kind.RESOURCE_EXHAUSTED,
                        "model '" + model + "' has " + options.maxWaiting() + " requests waiting already; retry later", null);
            }
            inFlight.incrementAndGet();
            inbox.add(() -> waiting.addLast(g));
        }
        return g;
    }

    /** Stops taking requests, finishes the accepted ones, then ends the thread; completes when it has ended. */
    public CompletableFuture<Void> drain() {
        synchronized (lifecycle) {
            if (accepting) {
                accepting = false;
                inbox.add(() -> draining = true);
            }
        }
        return terminated.copy();
    }

    /** Stops at the next iteration boundary, failing every accepted request with {@code reason}. */
    public CompletableFuture<Void> abort(GenerationException reason) {
        synchronized (lifecycle) {
            accepting = false;
            inbox.add(() -> abort = reason);
        }
        return terminated.copy();
    }

    /** State after the latest iteration, with the requests in flight now. */
    public Stats stats() {
        Stats s = stats;
        return new Stats(inFlight.get(), s.running(), s.waiting(), s.freeKvBlocks(), s.totalKvBlocks(), s.prefixCachedBlocks(),
                s.preemptions(), s.steps());
    }

    private void wake() {
        inbox.offer(WAKE);
    }

    private void checkFits(int promptTokens, int maxTokens) {
        if (promptTokens == 0) {
            throw new GenerationException(GenerationException.Kind.INVALID_ARGUMENT, "prompt must not be empty", "prompt");
        }
        if (promptTokens >= contextLength) {
            throw new GenerationException(GenerationException.Kind.INVALID_ARGUMENT, "prompt is " + promptTokens
                    + " tokens; model '" + model + "' has a context of " + contextLength + " tokens, so a prompt may have at most "
                    + (contextLength - 1), "prompt");
        }
        if (maxTokens > contextLength - promptTokens) {
            throw new GenerationException(GenerationException.Kind.INVALID_ARGUMENT, "max_tokens is " + maxTokens
                    + " but the prompt's " + promptTokens + " tokens leave room for at most " + (contextLength - promptTokens)
                    + " in model '" + model + "''s context of " + contextLength + " tokens", "max_tokens");
        }
        // The last token generated is never fed back, so it needs no KV position.
        int blocks = (promptTokens + maxTokens - 1 + pool.blockSize() - 1) / pool.blockSize();
        if (blocks > pool.totalBlocks()) {
            throw new GenerationException(GenerationException.Kind.INVALID_ARGUMENT, "prompt and max_tokens need " + blocks
                    + " KV blocks of " + pool.blockSize() + " tokens, more than the " + pool.totalBlocks()
                    + " this server gives model '" + model + "'; lower max_tokens", "max_tokens");
        }
    }

    /** A request's timeout (the default when it brings none) in nanoseconds; 0 for none. */
    private long timeoutNanos(Duration requested) {
        if (requested != null && (requested.isNegative() || requested.isZero())) {
            throw new GenerationException(GenerationException.Kind.INVALID_ARGUMENT, "timeout must be positive, got "
                    + requested, "timeout");
        }
        Duration timeout = requested != null ? requested : options.defaultTimeout();
        // Beyond a year is as good as none, and toNanos() would overflow past 292 years.
        return timeout.compareTo(Duration.ofDays(365)) > 0 ? 0 : timeout.toNanos();
    }

    private void loop() {
        try {
            while (takeCommands()) {
                iterate();
            }
        } catch (Throwable t) {
            // A bug in the scheduler itself: fail what it holds rather than leave clients waiting forever.
            LOG.log(System.Logger.Level.ERROR, "scheduler of model '" + model + "' failed", t);
            failAll(new GenerationException(GenerationException.Kind.INTERNAL, "the scheduler of model '" + model + "' failed",
                    null));
        } finally {
            synchronized (lifecycle) {
                accepting = false;
            }
            runCommands(); // requests accepted before the stop must still hear how they ended
            failAll(new GenerationException(GenerationException.Kind.UNAVAILABLE, "model '" + model + "' stopped", null));
            deliver();
            prefixCache.clear();
            publish();
            closeEngine();
            metrics.released();
            terminated.complete(null);
        }
    }

    private void closeEngine() {
        try {
            engine.close();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "closing the engine of model '" + model + "' failed", e);
        }
    }

    /** Runs queued commands, waiting for one while there is no work; false when the thread should end. */
    private boolean takeCommands() throws InterruptedException {
        runCommands();
        while (abort == null && running.isEmpty() && waiting.isEmpty()) {
            if (draining) {
                return false;
            }
            deliver();
            publish();
            inbox.take().run();
            runCommands();
        }
        if (abort != null) {
            failAll(abort);
            return false;
        }
        return true;
    }

    private void runCommands() {
        for (Runnable c = inbox.poll(); c != null; c = inbox.poll()) {
            c.run();
        }
    }

    private void iterate() {
        sweep(System.nanoTime());
        admit();
        List<Scheduled> batch = plan();
        if (batch.isEmpty()) {
            deliver();
            publish();
            return;
        }
        List<Engine.Step> stepList = new ArrayList<>(batch.size());
        // Rows whose logits nobody reads (a prompt chunk short of its end) or whose sampler only takes the argmax may
        // get their token from the engine instead: on a GPU their logits then stay on the device.
        boolean[] greedy = new boolean[batch.size()];
        int[] picked = new int[batch.size()];
        for (int i = 0; i < batch.size(); i++) {
            Scheduled s = batch.get(i);
            Generation g = s.generation();
            greedy[i] = enginePicks && (s.tokens() < g.pending() || g.sampler.onlyArgmax());
            stepList.add(new Engine.Step(g.sequence, g.next(s.tokens())));
        }
        float[][] logits;
        boolean overlapped;
        try {
            StepEngine.Launched launched = runner.launch(stepList, greedy, picked);
            overlapped = launched.running();
            if (overlapped) {
                deliver(); // the previous step's tokens go out while this one computes
            }
            logits = launched.await();
        } catch (KvCacheFullException e) {
            engine.pause();
            // plan() counts blocks as the engine does, so this is not expected; make room the slow way.
            Generation newest = running.getLast();
            if (running.size() > 1) {
                preempt(newest);
            } else {
                fail(newest, GenerationException.Kind.INTERNAL, "the KV cache cannot hold this request", "error");
            }
            deliver();
            publish();
            return;
        } catch (RuntimeException e) {
            engine.pause();
            LOG.log(System.Logger.Level.ERROR, "forward step of model '" + model + "' failed; failing its batch", e);
            for (Scheduled s : batch) {
                fail(s.generation(), GenerationException.Kind.INTERNAL, "the engine failed on this request's batch", "error");
            }
            deliver();
            publish();
            return;
        }
        // Sampling and streaming come next, on the cores the kernels' threads would otherwise spin on.
        engine.pause();
        steps++;
        metrics.step(batch.size(), engine.expertStats());
        long now = System.nanoTime();
        for (int i = 0; i < batch.size(); i++) {
            Generation g = batch.get(i).generation();
            if (g.sequence != null && g.pending() == 0) {
                sample(g, logits[i], picked[i], now);
            }
        }
        if (!overlapped) {
            deliver();
        }
        publish();
    }

    /** Ends cancelled requests silently, those whose listener failed, and expired ones with DEADLINE_EXCEEDED. */
    private void sweep(long now) {
        for (Generation g : new ArrayList<>(running)) {
            sweep(g, now);
        }
        for (Generation g : new ArrayList<>(waiting)) {
            sweep(g, now);
        }
    }

    private void sweep(Generation g, long now) {
        if (g.cancelled()) {
            drop(g, "cancelled");
        } else if (g.listenerFailed) {
            drop(g, "error");
        } else if (g.timeoutNanos > 0 && now - g.submittedNanos > g.timeoutNanos) {
            fail(g, GenerationException.Kind.DEADLINE_EXCEEDED, "request " + g.id + " passed its deadline after "
                    + g.generated() + " tokens", "deadline_exceeded");
        }
    }

    /**
     * Admits waiting requests in order while the batch has room and the pool has blocks for each one's uncached
     * tokens, besides the blocks already promised: the rest of every admitted prompt and one block of growth per
     * running sequence.
     */
    private void admit() {
        while (!waiting.isEmpty() && running.size() < options.maxRunning()) {
            Generation g = waiting.peekFirst();
            PrefixCache.Match match = prefixCache.match(g.tokens(), g.length());
            Sequence sequence = match.isEmpty() ? engine.newSequence() : engine.newSequence(match.tokens(), match.blocks());
            int need = sequence.cache().blocksFor(g.length()) - sequence.cache().blockCount();
            int promised = running.size();
            for (Generation r : running) {
                promised += Math.max(0, r.sequence.cache().blocksFor(r.length()) - r.sequence.cache().blockCount());
            }
            if (!prefixCache.freeUntil(need + promised)) {
                sequence.close();
                return;
            }
            waiting.removeFirst();
            queued.decrementAndGet();
            g.sequence = sequence;
            running.add(g);
            if (!g.admittedBefore) {
                g.admittedBefore = true;
                metrics.admitted(g.promptLength, Math.min(match.tokens().length, g.promptLength));
            }
        }
    }

    /**
     * This step's work under the token budget: one token for every decoding sequence first, then prompt chunks in
     * admission order. Preempts the newest sequences while the pool cannot hold the step.
     */
    private List<Scheduled> plan() {
        while (true) {
            List<Scheduled> batch = new ArrayList<>();
            int budget = options.tokenBudget();
            for (Generation g : running) {
                if (g.pending() == 1 && budget > 0) {
                    batch.add(new Scheduled(g, 1));
                    budget--;
                }
            }
            for (Generation g : running) {
                int pending = g.pending();
                if (pending > 1 && budget > 0) {
                    int n = Math.min(pending, Math.min(options.prefillChunk(), budget));
                    batch.add(new Scheduled(g, n));
                    budget -= n;
                }
            }
            int need = 0;
            for (Scheduled s : batch) {
                Sequence q = s.generation().sequence;
                need += Math.max(0, q.cache().blocksFor(q.length() + s.tokens()) - q.cache().blockCount());
            }
            if (prefixCache.freeUntil(need)) {
                return batch;
            }
            preempt(running.getLast());
        }
    }

    private void preempt(Generation g) {
        running.remove(g);
        g.release();
        waiting.addFirst(g);
        queued.incrementAndGet();
        preemptions++;
        metrics.preempted();
    }

    /**
     * Samples the token after a generation's last one (the engine's own pick when {@code logits} is null), streams it,
     * and ends the generation if it is done.
     */
    private void sample(Generation g, float[] logits, int picked, long now) {
        if (!g.promptCached) {
            prefixCache.insert(g.tokens(), g.promptLength, g.sequence.cache().blocks());
            g.promptCached = true;
        }
        Sample sample;
        try {
            if (logits != null) {
                sample = g.sampler.next(logits, 0, vocab, g.history);
            } else if (picked >= 0 && picked < vocab) {
                sample = new Sample(picked, Float.NaN);
            } else {
                // The device's argmax finds no largest logit only when every logit is NaN.
                throw new IllegalArgumentException("the engine picked token " + picked + " of a vocab of " + vocab
                        + " (NaN logits)");
            }
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "sampling failed for " + g.id + " of model '" + model + "'", e);
            fail(g, GenerationException.Kind.INTERNAL, "sampling failed: " + e.getMessage(), "error");
            return;
        }
        boolean first = g.generated() == 0;
        g.append(sample.token());
        metrics.token(first, now - (first ? g.submittedNanos : g.lastTokenNanos));
        g.lastTokenNanos = now;
        boolean endOfTextToken = sample.token() == endOfText;
        String text = endOfTextToken ? "" : g.text.accept(sample.token());
        TokenPiece piece = new TokenPiece(sample.token(), text, sample.logprob());
        if (g.cancelled()) {
            drop(g, "cancelled");
            return;
        }
        deliveries.add(new Delivery(g, l -> l.onToken(piece), false));
        if (endOfTextToken || g.text.stopped()) {
            complete(g, FinishReason.STOP);
        } else if (g.generated() >= g.maxTokens || g.length() >= contextLength) {
            complete(g, FinishReason.LENGTH);
        }
    }

    /**
     * Makes the listener calls queued so far, in order, skipping those of cancelled requests. A listener that throws
     * loses its request, nothing else: it hears nothing more, and a running request is ended by the next sweep (not
     * here, where a launched step may still be computing with its KV blocks).
     */
    private void deliver() {
        for (Delivery d; (d = deliveries.poll()) != null; ) {
            Generation g = d.generation();
            if (g.cancelled() || g.listenerFailed) {
                continue;
            }
            try {
                d.call().accept(g.listener);
            } catch (RuntimeException e) {
                g.listenerFailed = true;
                LOG.log(System.Logger.Level.WARNING, "listener of " + g.id + (d.ending() ? " failed at the end of its request"
                        : " failed; dropping the request"), e);
            }
        }
    }

    private void complete(Generation g, FinishReason reason) {
        String rest = g.text.stopped() ? "" : g.text.finish();
        FinishReason why = g.text.stopped() ? FinishReason.STOP : reason;
        Completion completion = new Completion(why, new Usage(g.promptLength, g.generated()), rest);
        end(g, why == FinishReason.STOP ? "stop" : "length");
        notify(g, l -> l.onComplete(completion));
    }

    private void fail(Generation g, GenerationException.Kind kind, String message, String reason) {
        end(g, reason);
        GenerationException error = new GenerationException(kind, message, null);
        notify(g, l -> l.onError(error));
    }

    /** Ends a generation without a word to its listener (cancelled, or the listener itself failed). */
    private void drop(Generation g, String reason) {
        end(g, reason);
    }

    private void failAll(GenerationException error) {
        for (Generation g : new ArrayList<>(running)) {
            fail(g, error.kind(), error.getMessage(), "error");
        }
        for (Generation g : new ArrayList<>(waiting)) {
            fail(g, error.kind(), error.getMessage(), "error");
        }
    }

    /** Frees a generation's blocks and batch slot before anyone hears of its end. */
    private void end(Generation g, String reason) {
        if (!running.remove(g) && waiting.remove(g)) {
            queued.decrementAndGet();
        }
        if (!g.end()) {
            return;
        }
        inFlight.decrementAndGet();
        metrics.finished(reason, System.nanoTime() - g.submittedNanos);
        try {
            g.onEnd.run();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "end hook of " + g.id + " failed", e);
        }
    }

    /** Queues a call to an ended generation's listener. */
    private void notify(Generation g, Consumer<GenerationListener> call) {
        deliveries.add(new Delivery(g, call, true));
    }

    private void publish() {
        int running = this.running.size();
        int waiting = queued.get();
        stats = new Stats(inFlight.get(), running, waiting, pool.freeBlocks(), pool.totalBlocks(), prefixCache.blocks(), preemptions, steps);
        metrics.queues(running, waiting, 1 - pool.freeBlocks() / (double) pool.totalBlocks());
    }
}
