package dev.switchback.server.http;

import dev.switchback.server.generation.GenerationException;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpResponse;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * Runs work that may block (service calls, metric scrapes) off the event loop and sends its response from the
 * channel's event loop; the request counts as in flight until then.
 */
final class Offload {
    private static final System.Logger LOG = System.getLogger(Offload.class.getName());

    private final Executor executor;
    private final Responses responses;
    private final InFlight inFlight;

    Offload(Executor executor, Responses responses, InFlight inFlight) {
        this.executor = executor;
        this.responses = responses;
        this.inFlight = inFlight;
    }

    Executor executor() {
        return executor;
    }

    /** Answers with what {@code work} returns. */
    void reply(ChannelHandlerContext ctx, Callable<FullHttpResponse> work) {
        replyLater(ctx, () -> CompletableFuture.completedFuture(work.call()));
    }

    /** Answers when the stage {@code work} starts completes (e.g. a model load). */
    void replyLater(ChannelHandlerContext ctx, Callable<? extends CompletionStage<FullHttpResponse>> work) {
        inFlight.enter();
        try {
            executor.execute(() -> {
                CompletionStage<FullHttpResponse> stage;
                try {
                    stage = work.call();
                } catch (Exception e) {
                    stage = CompletableFuture.failedFuture(e);
                }
                stage.whenComplete((response, error) -> send(ctx, response, error));
            });
        } catch (RejectedExecutionException e) {
            inFlight.exit();
            responses.sendError(ctx, ApiError.of(
                    new GenerationException(GenerationException.Kind.UNAVAILABLE, "server is shutting down", null)));
        }
    }

    private void send(ChannelHandlerContext ctx, FullHttpResponse response, Throwable error) {
        try {
            ctx.executor().execute(() -> {
                try {
                    Responses.send(ctx, response != null ? response : responses.error(ctx, apiError(error)));
                } finally {
                    inFlight.exit();
                }
            });
        } catch (RejectedExecutionException e) {
            // The event loop is gone and the channel with it: nobody to answer.
            if (response != null) {
                response.release();
            }
            inFlight.exit();
        }
    }

    private static ApiError apiError(Throwable error) {
        Throwable cause = error;
        while ((cause instanceof CompletionException || cause instanceof ExecutionException) && cause.getCause() != null) {
            cause = cause.getCause();
        }
        if (cause instanceof GenerationException g) {
            return ApiError.of(g);
        }
        if (cause instanceof RequestException r) {
            return r.error();
        }
        LOG.log(System.Logger.Level.WARNING, "request failed", cause);
        return ApiError.internal("internal error");
    }
}
