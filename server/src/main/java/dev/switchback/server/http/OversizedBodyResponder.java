package dev.switchback.server.http;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;

/** Answers 413 for a request whose body went over the limit. */
@ChannelHandler.Sharable
final class OversizedBodyResponder extends ChannelInboundHandlerAdapter {
    private final Responses responses;
    private final int maxBodyBytes;

    OversizedBodyResponder(Responses responses, int maxBodyBytes) {
        this.responses = responses;
        this.maxBodyBytes = maxBodyBytes;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof OversizedRequest oversized)) {
            ctx.fireChannelRead(msg);
            return;
        }
        FullHttpResponse r = responses.error(ctx, new ApiError(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
                ApiError.INVALID_REQUEST, "request body is larger than " + maxBodyBytes + " bytes", null, null));
        if (!oversized.keepAlive()) {
            HttpUtil.setKeepAlive(r, false);
        }
        Responses.send(ctx, r);
    }
}
