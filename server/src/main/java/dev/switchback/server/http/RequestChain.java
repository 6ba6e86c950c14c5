package dev.switchback.server.http;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import java.util.ArrayList;
import java.util.List;

/**
 * The handlers every request passes, the same on an HTTP/1.1 connection and on each HTTP/2 stream: gather the body
 * (413 past the limit), check the API key (401), refuse while draining (503), route. HTTP/1.1 adds keep-alive
 * handling and in-order answers to pipelined requests.
 */
final class RequestChain {
    private final int maxBodyBytes;
    private final List<ChannelHandler> shared;
    private final ChannelHandler errors;

    /** @param authenticator null when the API is open */
    RequestChain(int maxBodyBytes, OversizedBodyResponder oversized, ApiKeyAuthenticator authenticator,
            DrainGate drainGate, Router router, ConnectionErrors errors) {
        this.maxBodyBytes = maxBodyBytes;
        List<ChannelHandler> s = new ArrayList<>();
        s.add(oversized);
        if (authenticator != null) {
            s.add(authenticator);
        }
        s.add(drainGate);
        s.add(router);
        this.shared = List.copyOf(s);
        this.errors = errors;
    }

    /** The handler that ends every pipeline. */
    ChannelHandler errors() {
        return errors;
    }

    /** Adds the HTTP/1.1 request handlers just before the pipeline's handler named {@code before}. */
    void addHttp1(ChannelPipeline pipeline, String before) {
        pipeline.addBefore(before, null, new HttpServerKeepAliveHandler());
        pipeline.addBefore(before, null, new BodyAggregator(maxBodyBytes));
        pipeline.addBefore(before, null, new Http1Sequencer());
        for (ChannelHandler h : shared) {
            pipeline.addBefore(before, null, h);
        }
    }

    /** Adds the request handlers of one HTTP/2 stream, after its frame-to-HTTP codec. */
    void addHttp2Stream(ChannelPipeline pipeline) {
        pipeline.addLast(new BodyAggregator(maxBodyBytes));
        for (ChannelHandler h : shared) {
            pipeline.addLast(h);
        }
        pipeline.addLast(errors);
    }
}
