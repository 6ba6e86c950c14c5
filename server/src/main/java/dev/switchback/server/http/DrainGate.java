package dev.switchback.server.http;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import dev.switchback.server.generation.GenerationException;
import java.util.function.BooleanSupplier;

/** While the server shuts down, answers new requests on open connections 503 and closes them; health checks pass. */
@ChannelHandler.Sharable
final class DrainGate extends ChannelInboundHandlerAdapter {
    private final BooleanSupplier draining;
    private final Responses responses;

    DrainGate(BooleanSupplier draining, Responses responses) {
        this.draining = draining;
        this.responses = responses;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof FullHttpRequest request) || !draining.getAsBoolean() || request.uri().startsWith("/health/")) {
            ctx.fireChannelRead(msg);
            return;
        }
        request.release();
        FullHttpResponse r = responses.error(ctx, ApiError.of(
                new GenerationException(GenerationException.Kind.UNAVAILABLE, "server is shutting down", null)));
        HttpUtil.setKeepAlive(r, false);
        Responses.send(ctx, r);
    }
}
