package dev.switchback.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;

/** Builds and sends whole responses: JSON bodies and OpenAI error bodies with their status and headers. */
final class Responses {
    private final int retryAfterSeconds;

    Responses(int retryAfterSeconds) {
        this.retryAfterSeconds = retryAfterSeconds;
    }

    /** Sends a whole response; must run on the channel's event loop. */
    static void send(ChannelHandlerContext ctx, FullHttpResponse response) {
        ctx.writeAndFlush(response);
    }

    static FullHttpResponse json(ChannelHandlerContext ctx, HttpResponseStatus status, JsonNode body) {
        return full(status, Json.write(ctx.alloc(), body), HttpHeaderValues.APPLICATION_JSON);
    }

    static FullHttpResponse full(HttpResponseStatus status, ByteBuf content, CharSequence contentType) {
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
        return r;
    }

    /** {@code {"error":{"message","type","param","code"}}}. */
    static ObjectNode errorBody(ApiError e) {
        ObjectNode body = Json.object();
        body.putObject("error")
                .put("message", e.message())
                .put("type", e.type())
                .put("param", e.param())
                .put("code", e.code());
        return body;
    }

    FullHttpResponse error(ChannelHandlerContext ctx, ApiError e) {
        FullHttpResponse r = json(ctx, e.status(), errorBody(e));
        if (e.status().equals(HttpResponseStatus.TOO_MANY_REQUESTS)) {
            r.headers().setInt(HttpHeaderNames.RETRY_AFTER, retryAfterSeconds);
        } else if (e.status().equals(HttpResponseStatus.UNAUTHORIZED)) {
            r.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer");
        }
        return r;
    }

    void sendError(ChannelHandlerContext ctx, ApiError e) {
        send(ctx, error(ctx, e));
    }
}
