package dev.switchback.server.http;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/** Sends each request to the endpoint of its method and path; answers 400, 404 and 405 itself. */
@ChannelHandler.Sharable
final class Router extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final System.Logger LOG = System.getLogger(Router.class.getName());

    private final List<Route> routes;
    private final Responses responses;

    /** {@code template} segments written {@code {name}} match any one segment. */
    record Route(HttpMethod method, String template, Endpoint endpoint) {
        List<String> match(String[] path) {
            String[] t = segments(template);
            if (t.length != path.length) {
                return null;
            }
            List<String> params = new ArrayList<>(0);
            for (int i = 0; i < t.length; i++) {
                if (t[i].startsWith("{") && t[i].endsWith("}")) {
                    params.add(QueryStringDecoder.decodeComponent(path[i]));
                } else if (!t[i].equals(path[i])) {
                    return null;
                }
            }
            return params;
        }
    }

    Router(Responses responses, List<Route> routes) {
        this.responses = responses;
        this.routes = List.copyOf(routes);
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        if (request.decoderResult().isFailure()) {
            // The decoder drops what follows a broken request, so the connection cannot carry another one.
            FullHttpResponse r = responses.error(ctx, ApiError.invalid("malformed HTTP request", null));
            HttpUtil.setKeepAlive(r, false);
            Responses.send(ctx, r);
            return;
        }
        String path = new QueryStringDecoder(request.uri()).path();
        String[] segments = segments(path);
        Set<String> allowed = new LinkedHashSet<>();
        for (Route route : routes) {
            List<String> params = route.match(segments);
            if (params == null) {
                continue;
            }
            if (route.method().equals(request.method())) {
                dispatch(ctx, request, route, params);
                return;
            }
            allowed.add(route.method().name());
        }
        if (allowed.isEmpty()) {
            responses.sendError(ctx, new ApiError(HttpResponseStatus.NOT_FOUND, ApiError.INVALID_REQUEST,
                    "unknown route " + request.method() + " " + path, null, null));
        } else {
            FullHttpResponse r = responses.error(ctx, new ApiError(HttpResponseStatus.METHOD_NOT_ALLOWED,
                    ApiError.INVALID_REQUEST, "method " + request.method() + " is not allowed on " + path
                            + " (allowed: " + String.join(", ", allowed) + ")", null, null));
            r.headers().set(HttpHeaderNames.ALLOW, String.join(", ", allowed));
            Responses.send(ctx, r);
        }
    }

    private void dispatch(ChannelHandlerContext ctx, FullHttpRequest request, Route route, List<String> params) {
        try {
            route.endpoint().handle(ctx, request, params);
        } catch (RequestException e) {
            responses.sendError(ctx, e.error());
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "endpoint " + route.template() + " failed", e);
            responses.sendError(ctx, ApiError.internal("internal error"));
        }
    }

    private static String[] segments(String path) {
        return java.util.Arrays.stream(path.split("/")).filter(s -> !s.isEmpty()).toArray(String[]::new);
    }
}
