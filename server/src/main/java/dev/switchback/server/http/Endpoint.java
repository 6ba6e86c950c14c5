package dev.switchback.server.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpRequest;
import java.util.List;

/** Answers one route. Runs on the event loop; the request is released when it returns, so it keeps nothing of it. */
@FunctionalInterface
interface Endpoint {
    /**
     * @param pathParams the values of the route's {@code {…}} segments, in order
     * @throws RequestException for a request it refuses (answered with that error)
     */
    void handle(ChannelHandlerContext ctx, FullHttpRequest request, List<String> pathParams);
}
