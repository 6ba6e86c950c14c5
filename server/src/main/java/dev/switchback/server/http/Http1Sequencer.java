package dev.switchback.server.http;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;

/**
 * Lets one request at a time through an HTTP/1.1 connection, so that the responses to pipelined requests,
 * which may finish out of order (a stream outlives a health check), leave in the order the requests came.
 *
 * <p>Requests behind the one being answered wait here; once {@link #MAX_WAITING} wait, reading stops until
 * they drain (a client that pipelines that deep is throttled, and its disconnects are noticed only when a
 * write fails).
 */
final class Http1Sequencer extends ChannelDuplexHandler {
    static final int MAX_WAITING = 16;

    private final ArrayDeque<Object> waiting = new ArrayDeque<>();
    private boolean answering;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof FullHttpRequest || msg instanceof OversizedRequest)) {
            ctx.fireChannelRead(msg);
            return;
        }
        if (answering) {
            waiting.add(msg);
            if (waiting.size() >= MAX_WAITING) {
                ctx.channel().config().setAutoRead(false);
            }
            return;
        }
        answering = true;
        ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        boolean ends = msg instanceof LastHttpContent
                && !(msg instanceof HttpResponse r && r.status().codeClass() == HttpStatusClass.INFORMATIONAL);
        ctx.write(msg, promise);
        if (ends) {
            answering = false;
            // Not from inside write(): the next request's handler may write at once.
            ctx.executor().execute(() -> next(ctx));
        }
    }

    private void next(ChannelHandlerContext ctx) {
        if (answering || waiting.isEmpty() || !ctx.channel().isActive()) {
            return;
        }
        Object msg = waiting.poll();
        if (waiting.size() < MAX_WAITING) {
            ctx.channel().config().setAutoRead(true);
        }
        answering = true;
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        releaseWaiting();
        ctx.fireChannelInactive();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        releaseWaiting();
    }

    private void releaseWaiting() {
        while (!waiting.isEmpty()) {
            ReferenceCountUtil.release(waiting.poll());
        }
    }
}
