package dev.switchback.server.http;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/** Answers 401 to requests without the right {@code Authorization: Bearer KEY}; health checks stay open. */
@ChannelHandler.Sharable
final class ApiKeyAuthenticator extends ChannelInboundHandlerAdapter {
    private static final String BEARER = "Bearer ";
    private static final String OPEN_PREFIX = "/health/";

    private final byte[] key;
    private final Responses responses;

    ApiKeyAuthenticator(String apiKey, Responses responses) {
        this.key = apiKey.getBytes(StandardCharsets.UTF_8);
        this.responses = responses;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof FullHttpRequest request) || request.uri().startsWith(OPEN_PREFIX)) {
            ctx.fireChannelRead(msg);
            return;
        }
        String header = request.headers().get(HttpHeaderNames.AUTHORIZATION);
        String problem = problem(header);
        if (problem == null) {
            ctx.fireChannelRead(msg);
            return;
        }
        request.release();
        responses.sendError(ctx, new ApiError(HttpResponseStatus.UNAUTHORIZED, ApiError.INVALID_REQUEST, problem, null,
                "invalid_api_key"));
    }

    private String problem(String header) {
        if (header == null || !header.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
            return "missing API key: send Authorization: Bearer KEY";
        }
        byte[] given = header.substring(BEARER.length()).trim().getBytes(StandardCharsets.UTF_8);
        // Constant-time, so the comparison does not leak how much of the key was right.
        return MessageDigest.isEqual(key, given) ? null : "invalid API key";
    }
}
