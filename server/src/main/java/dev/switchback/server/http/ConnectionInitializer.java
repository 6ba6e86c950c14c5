package dev.switchback.server.http;

import io.netty.channel.ChannelHandlerAdapter;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerUpgradeHandler;
import io.netty.handler.codec.http2.CleartextHttp2ServerUpgradeHandler;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2ServerUpgradeCodec;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.util.AsciiString;

/**
 * Sets up a new connection for whichever protocol the client speaks on one port: HTTP/2 by prior knowledge (the
 * connection preface), HTTP/2 by {@code Upgrade: h2c} on the first request, or HTTP/1.1. HTTP/2 streams each get
 * the same {@link RequestChain} as an HTTP/1.1 connection.
 */
final class ConnectionInitializer extends ChannelInitializer<SocketChannel> {
    private static final String ERRORS = "errors";

    private final RequestChain chain;
    private final ChannelGroup channels;
    private final int maxBodyBytes;
    private final int maxConcurrentStreams;
    private final ChannelInitializer<Http2StreamChannel> streamInitializer = new ChannelInitializer<>() {
        @Override
        protected void initChannel(Http2StreamChannel stream) {
            stream.pipeline().addLast(new Http2StreamFrameToHttpObjectCodec(true));
            chain.addHttp2Stream(stream.pipeline());
        }
    };

    ConnectionInitializer(RequestChain chain, ChannelGroup channels, int maxBodyBytes, int maxConcurrentStreams) {
        this.chain = chain;
        this.channels = channels;
        this.maxBodyBytes = maxBodyBytes;
        this.maxConcurrentStreams = maxConcurrentStreams;
    }

    @Override
    protected void initChannel(SocketChannel ch) {
        channels.add(ch);
        HttpServerCodec codec = new HttpServerCodec();
        // Only the first request may ask for h2c, so HTTP/1.1 handlers never sit behind HTTP/2 ones.
        HttpServerUpgradeHandler upgrade = new HttpServerUpgradeHandler(codec, this::upgradeCodec, maxBodyBytes,
                DefaultHttpHeadersFactory.headersFactory(), DefaultHttpHeadersFactory.trailersFactory(), true) {
            @Override
            protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
                // An upgrade request over the limit gets the same 413 as any other, not Netty's bare one.
                ctx.fireChannelRead(BodyAggregator.standIn(oversized));
            }
        };
        ch.pipeline()
                .addLast(new CleartextHttp2ServerUpgradeHandler(codec, upgrade, new Http2Installer()))
                .addLast(new Http1Installer())
                .addLast(ERRORS, chain.errors());
    }

    private HttpServerUpgradeHandler.UpgradeCodec upgradeCodec(CharSequence protocol) {
        return AsciiString.contentEquals(Http2CodecUtil.HTTP_UPGRADE_PROTOCOL_NAME, protocol)
                ? new Http2ServerUpgradeCodec(frameCodec(), new Http2MultiplexHandler(streamInitializer))
                : null;
    }

    private Http2FrameCodec frameCodec() {
        return Http2FrameCodecBuilder.forServer()
                .initialSettings(Http2Settings.defaultSettings().maxConcurrentStreams(maxConcurrentStreams))
                // HttpServer.close() drains streams itself; when it closes a connection, the streams left are cut.
                .gracefulShutdownTimeoutMillis(0)
                .build();
    }

    /** Put in place of the cleartext handler on prior knowledge: the HTTP/2 codec and one child channel per stream. */
    private final class Http2Installer extends ChannelHandlerAdapter {
        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            // The multiplexer looks for the codec when it is added, so the codec goes in first.
            Http2FrameCodec codec = frameCodec();
            ctx.pipeline().addAfter(ctx.name(), null, codec);
            ctx.pipeline().addAfter(ctx.pipeline().context(codec).name(), null, new Http2MultiplexHandler(streamInitializer));
            ctx.pipeline().remove(this);
        }
    }

    /** Adds the HTTP/1.1 request handlers when the first plain HTTP/1.1 message arrives; steps aside on HTTP/2. */
    private final class Http1Installer extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof HttpMessage || msg instanceof OversizedRequest)) {
                ctx.fireChannelRead(msg);
                return;
            }
            chain.addHttp1(ctx.pipeline(), ERRORS);
            ctx.fireChannelRead(msg);
            ctx.pipeline().remove(this);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof HttpServerUpgradeHandler.UpgradeEvent
                    || evt instanceof CleartextHttp2ServerUpgradeHandler.PriorKnowledgeUpgradeEvent) {
                ctx.pipeline().remove(this);
            }
            ctx.fireUserEventTriggered(evt);
        }
    }
}
