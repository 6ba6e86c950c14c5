package dev.switchback.server.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.FullHttpMessage;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;

/**
 * Gathers a request into one {@code FullHttpRequest} up to the body limit; a larger one is passed on as an
 * {@link OversizedRequest} (answered 413 downstream) instead of Netty's bare 413.
 */
final class BodyAggregator extends HttpObjectAggregator {
    BodyAggregator(int maxBodyBytes) {
        super(maxBodyBytes);
    }

    @Override
    protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
        ctx.fireChannelRead(standIn(oversized));
    }

    /** The {@link OversizedRequest} for a request that went over the limit (also used for h2c upgrade requests). */
    static OversizedRequest standIn(HttpMessage oversized) {
        if (!(oversized instanceof HttpRequest request)) {
            throw new IllegalStateException("a server only aggregates requests");
        }
        // As in Netty: the rest of a body of declared length is read and dropped, so the connection carries on;
        // a body that overflowed part-way (chunked, or HTTP/2) leaves the stream unsynchronised, so it ends.
        boolean keepAlive = !(oversized instanceof FullHttpMessage) && HttpUtil.isKeepAlive(oversized);
        HttpRequest head = new DefaultHttpRequest(request.protocolVersion(), request.method(), request.uri(),
                request.headers().copy());
        return new OversizedRequest(head, keepAlive);
    }
}
