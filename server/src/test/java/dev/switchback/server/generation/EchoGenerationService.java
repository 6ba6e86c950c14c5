package dev.switchback.server.generation;

import dev.switchback.server.generation.GenerationException.Kind;
import dev.switchback.server.generation.GenerationListener.Completion;
import dev.switchback.server.generation.GenerationListener.FinishReason;
import dev.switchback.server.generation.GenerationListener.TokenPiece;
import dev.switchback.server.generation.GenerationListener.Usage;
import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A protocol test double of {@link GenerationService}, deterministic and model-free: it "generates" the prompt
 * back, one character per token (token id = the char, logprob = -0.5), on its own scheduler thread.
 *
 * <ul>
 *   <li>stops before the first stop string (finish "stop"), else after {@code maxTokens} (finish "length"), else at
 *       the prompt's end (finish "stop"); usage counts the prompt's characters and the tokens sent;
 *   <li>holds back the last character of a generation ending in "stop" and releases it as the completion's
 *       remaining text, the way an engine holds back a possible stop-string prefix;
 *   <li>model {@value #MODEL} serves; {@code fail:KIND} is refused at submit with that kind; {@code fail-late:KIND}
 *       sends one token then fails with it; any other name is NOT_FOUND;
 *   <li>fails with DEADLINE_EXCEEDED when the request's timeout passes between tokens;
 *   <li>records every request, every {@code cancel()} and every generation's end; after a cancel the listener hears
 *       nothing more.
 * </ul>
 */
public final class EchoGenerationService implements GenerationService {
    public static final String MODEL = "echo";
    public static final float LOGPROB = -0.5f;

    private final Duration tokenDelay;
    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("echo-scheduler").factory());
    private final AtomicInteger ids = new AtomicInteger();
    private final Queue<GenerationRequest> requests = new ConcurrentLinkedQueue<>();
    private final Queue<String> cancelled = new ConcurrentLinkedQueue<>();
    private final Queue<String> ended = new ConcurrentLinkedQueue<>();
    private volatile boolean ready = true;

    /** @param tokenDelay pause before each token, so tests can cancel or time out mid-generation */
    public EchoGenerationService(Duration tokenDelay) {
        this.tokenDelay = tokenDelay;
    }

    /** Every request submitted (refused ones included), in order. */
    public List<GenerationRequest> requests() {
        return List.copyOf(requests);
    }

    /** Ids of the generations whose handle was cancelled, in order. */
    public List<String> cancelled() {
        return List.copyOf(cancelled);
    }

    /** Ids of the generations that completed or failed, in the order they ended. */
    public List<String> ended() {
        return List.copyOf(ended);
    }

    public void ready(boolean value) {
        ready = value;
    }

    @Override
    public boolean ready() {
        return ready;
    }

    @Override
    public Handle submit(GenerationRequest request, GenerationListener listener) {
        requests.add(request);
        String model = request.model();
        if (model.startsWith("fail:")) {
            Kind kind = Kind.valueOf(model.substring("fail:".length()));
            throw new GenerationException(kind, "echo refuses: " + kind, null);
        }
        Kind lateFailure = model.startsWith("fail-late:") ? Kind.valueOf(model.substring("fail-late:".length())) : null;
        if (lateFailure == null && !model.equals(MODEL)) {
            throw new GenerationException(Kind.NOT_FOUND, "no model named '" + model + "'", "model");
        }
        Generation g = new Generation("cmpl-echo-" + ids.incrementAndGet(), request, listener, lateFailure);
        g.next();
        return g;
    }

    @Override
    public List<ModelCard> models() {
        return List.of(new ModelCard(MODEL, 1, "echo", 1000, 250, 2048, true, null));
    }

    @Override
    public CompletableFuture<ModelCard> load(String name) {
        return CompletableFuture.completedFuture(models().getFirst());
    }

    @Override
    public CompletableFuture<Void> unload(String name) {
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public void shutdown(Duration grace) {
        scheduler.shutdownNow();
    }

    /** One running echo: a token per scheduler step. */
    private final class Generation implements Handle {
        private final String id;
        private final GenerationListener listener;
        private final Kind lateFailure;
        private final String output;
        private final FinishReason reason;
        private final int promptTokens;
        private final Long deadlineNanos;
        private int sent;
        private volatile boolean stopped;

        Generation(String id, GenerationRequest request, GenerationListener listener, Kind lateFailure) {
            this.id = id;
            this.listener = listener;
            this.lateFailure = lateFailure;
            this.promptTokens = request.prompt().length();
            this.deadlineNanos = request.timeout() == null ? null : System.nanoTime() + request.timeout().toNanos();
            String text = request.prompt();
            for (String stop : request.sampling().stop()) {
                int at = text.indexOf(stop);
                if (at >= 0) {
                    text = text.substring(0, at);
                }
            }
            int max = request.sampling().maxTokens();
            this.reason = text.length() > max ? FinishReason.LENGTH : FinishReason.STOP;
            this.output = text.length() > max ? text.substring(0, max) : text;
        }

        void next() {
            scheduler.schedule(this::step, tokenDelay.toNanos(), TimeUnit.NANOSECONDS);
        }

        private void step() {
            if (stopped) {
                return;
            }
            if (deadlineNanos != null && System.nanoTime() - deadlineNanos > 0) {
                stopped = true;
                listener.onError(new GenerationException(Kind.DEADLINE_EXCEEDED, "echo ran past the request's timeout", null));
                ended.add(id);
                return;
            }
            if (lateFailure != null && sent == 1) {
                stopped = true;
                listener.onError(new GenerationException(lateFailure, "echo failed late: " + lateFailure, null));
                ended.add(id);
                return;
            }
            if (sent == output.length()) {
                stopped = true;
                String held = reason == FinishReason.STOP && !output.isEmpty() ? output.substring(output.length() - 1) : "";
                listener.onComplete(new Completion(reason, new Usage(promptTokens, sent), held));
                ended.add(id);
                return;
            }
            char c = output.charAt(sent);
            boolean holdBack = reason == FinishReason.STOP && sent == output.length() - 1;
            listener.onToken(new TokenPiece(c, holdBack ? "" : String.valueOf(c), LOGPROB));
            sent++;
            next();
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
}
