package dev.switchback.server.http;

import dev.switchback.server.generation.GenerationException;
import dev.switchback.server.generation.GenerationListener;
import dev.switchback.server.generation.GenerationRequest;
import dev.switchback.server.generation.GenerationService;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One OpenAI request's generations: submits its n choices off the event loop, brings every listener call back
 * onto the channel's event loop in order, and ends exactly once: all choices complete, one fails (the others
 * are cancelled), the backstop deadline passes, or the client goes away (all are cancelled at once).
 */
final class GenerationCall {
    private static final System.Logger LOG = System.getLogger(GenerationCall.class.getName());

    private final ChannelHandlerContext ctx;
    private final EventExecutor loop;
    private final GenerationService service;
    private final CallOutput output;
    private final InFlight inFlight;
    private final GenerationService.Handle[] handles;
    // Events that arrive before every choice is queued wait here, so the response starts with all ids known.
    private final ArrayDeque<Pending> early = new ArrayDeque<>();
    private final ChannelFutureListener onClose = f -> abandon();
    // Events from the scheduler's thread wait here for the event loop; one drain task takes all that have arrived.
    private final ConcurrentLinkedQueue<Pending> arrivals = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean drainScheduled = new AtomicBoolean();
    private volatile boolean stopSubmitting; // read by the submitting thread: once over, queue no more choices
    private int queued;
    private int running;
    private boolean begun;
    private boolean over;
    private ScheduledFuture<?> backstop;

    GenerationCall(ChannelHandlerContext ctx, GenerationService service, CallOutput output, InFlight inFlight, int n) {
        this.ctx = ctx;
        this.loop = ctx.executor();
        this.service = service;
        this.output = output;
        this.inFlight = inFlight;
        this.handles = new GenerationService.Handle[n];
        this.running = n;
    }

    /**
     * Starts the call on the event loop.
     *
     * @param prepare builds the n requests; runs on {@code offload} since it may consult the service
     * @param backstop when to give up if the service never answers; null for never
     */
    void start(Callable<List<GenerationRequest>> prepare, Executor offload, Duration backstop) {
        inFlight.enter();
        if (backstop != null) {
            ApiError timedOut = ApiError.of(new GenerationException(GenerationException.Kind.DEADLINE_EXCEEDED,
                    "request timed out after " + backstop.toMillis() + " ms", null));
            this.backstop = loop.schedule(() -> fail(timedOut), backstop.toNanos(), TimeUnit.NANOSECONDS);
        }
        // Last, since it runs at once when the client is already gone.
        ctx.channel().closeFuture().addListener(onClose);
        try {
            offload.execute(() -> submitAll(prepare));
        } catch (RejectedExecutionException e) {
            fail(ApiError.of(new GenerationException(GenerationException.Kind.UNAVAILABLE, "server is shutting down", null)));
        }
    }

    // On the offload thread: the service may take its time to queue (tokenising, checking the context).
    private void submitAll(Callable<List<GenerationRequest>> prepare) {
        try {
            List<GenerationRequest> requests = prepare.call();
            for (int i = 0; i < requests.size() && !stopSubmitting; i++) {
                int choice = i;
                GenerationService.Handle h = service.submit(requests.get(i), new ChoiceListener(choice));
                if (!hop(() -> queued(choice, h))) {
                    h.cancel();
                }
            }
        } catch (RequestException e) {
            hop(() -> fail(e.error()));
        } catch (GenerationException e) {
            hop(() -> fail(ApiError.of(e)));
        } catch (Exception e) {
            LOG.log(System.Logger.Level.WARNING, "generation could not be submitted", e);
            hop(() -> fail(ApiError.internal("internal error")));
        }
    }

    /** Runs {@code task} on the event loop; false when the loop has shut down (the channel is gone with it). */
    private boolean hop(Runnable task) {
        try {
            loop.execute(task);
            return true;
        } catch (RejectedExecutionException e) {
            return false;
        }
    }

    private void queued(int choice, GenerationService.Handle h) {
        if (over) {
            h.cancel();
            return;
        }
        handles[choice] = h;
        if (++queued == handles.length) {
            begun = true;
            output.begin(handles[0].id());
            while (!early.isEmpty() && !over) {
                Pending p = early.poll();
                event(p.choice(), p.event());
            }
            output.flush();
        }
    }

    /**
     * Hands one event from the scheduler's thread to the event loop. Events that arrive while a drain is already
     * scheduled join it: when the loop falls behind (it shares the cores with the engine), a stream's pending tokens
     * go out in one write and flush instead of one each.
     */
    private void arrive(int choice, Object event) {
        arrivals.add(new Pending(choice, event));
        if (drainScheduled.compareAndSet(false, true) && !hop(this::drain)) {
            arrivals.clear(); // the loop has shut down, and the channel with it
        }
    }

    private void drain() {
        drainScheduled.set(false); // first: an event added after the polls below schedules a new drain
        for (Pending p; (p = arrivals.poll()) != null; ) {
            event(p.choice(), p.event());
        }
        output.flush();
    }

    private void event(int choice, Object event) {
        if (over) {
            return;
        }
        if (!begun) {
            early.add(new Pending(choice, event));
            return;
        }
        switch (event) {
            case GenerationListener.TokenPiece piece -> output.token(choice, piece);
            case GenerationListener.Completion completion -> {
                output.complete(choice, completion);
                if (--running == 0) {
                    over = true;
                    output.end();
                    release();
                }
            }
            case GenerationException error -> fail(ApiError.of(error));
            default -> throw new IllegalStateException("unknown event " + event);
        }
    }

    private void fail(ApiError error) {
        if (over) {
            return;
        }
        over = true;
        stopSubmitting = true;
        cancelAll();
        output.fail(error);
        output.flush();
        release();
    }

    /** The client went away: nobody will read the output, so the work stops now. */
    private void abandon() {
        if (over) {
            return;
        }
        over = true;
        stopSubmitting = true;
        cancelAll();
        release();
    }

    private void cancelAll() {
        for (GenerationService.Handle h : handles) {
            if (h != null) {
                h.cancel();
            }
        }
    }

    private void release() {
        early.clear();
        ctx.channel().closeFuture().removeListener(onClose);
        if (backstop != null) {
            backstop.cancel(false);
        }
        inFlight.exit();
    }

    private record Pending(int choice, Object event) {}

    /** Hands one choice's events, which arrive on the scheduler's thread, to the event loop. */
    private final class ChoiceListener implements GenerationListener {
        private final int choice;

        ChoiceListener(int choice) {
            this.choice = choice;
        }

        @Override
        public void onToken(TokenPiece piece) {
            arrive(choice, piece);
        }

        @Override
        public void onComplete(Completion completion) {
            arrive(choice, completion);
        }

        @Override
        public void onError(GenerationException error) {
            arrive(choice, error);
        }
    }
}
