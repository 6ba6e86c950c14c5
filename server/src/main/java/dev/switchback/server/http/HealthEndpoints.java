package dev.switchback.server.http;

import dev.switchback.server.generation.GenerationService;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.List;
import java.util.function.BooleanSupplier;

/** {@code GET /health/live} (the process answers) and {@code GET /health/ready} (models loaded and not shutting down). */
final class HealthEndpoints {
    private final GenerationService service;
    private final BooleanSupplier draining;

    HealthEndpoints(GenerationService service, BooleanSupplier draining) {
        this.service = service;
        this.draining = draining;
    }

    void live(ChannelHandlerContext ctx, FullHttpRequest request, List<String> pathParams) {
        Responses.send(ctx, Responses.json(ctx, HttpResponseStatus.OK, Json.object().put("status", "live")));
    }

    void ready(ChannelHandlerContext ctx, FullHttpRequest request, List<String> pathParams) {
        // ready() reads a flag, so it is called here on the event loop.
        boolean ready = !draining.getAsBoolean() && service.ready();
        Responses.send(ctx, Responses.json(ctx, ready ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE,
                Json.object().put("status", ready ? "ready" : "not ready")));
    }
}
