package dev.switchback.server.http;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.util.CharsetUtil;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** An HTTP/2 client that starts with the connection preface (prior knowledge), which java.net.http cannot do. */
final class H2PriorKnowledgeClient implements AutoCloseable {
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel connection;

    /** A response as text. */
    record Response(int status, String contentType, String body) {}

    H2PriorKnowledgeClient(int port) throws InterruptedException {
        connection = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(Http2FrameCodecBuilder.forClient().build(),
                                new Http2MultiplexHandler(new ChannelInitializer<Channel>() {
                                    @Override
                                    protected void initChannel(Channel pushed) {}
                                }));
                    }
                })
                .connect("127.0.0.1", port).sync().channel();
    }

    static FullHttpRequest post(String path, String json) {
        FullHttpRequest r = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, path,
                Unpooled.copiedBuffer(json, CharsetUtil.UTF_8));
        r.headers().set(HttpHeaderNames.HOST, "test").set(HttpHeaderNames.CONTENT_TYPE, "application/json")
                .setInt(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes());
        return r;
    }

    /** Sends {@code request} on a new stream and completes with the whole response. */
    CompletableFuture<Response> send(FullHttpRequest request) throws InterruptedException {
        CompletableFuture<Response> done = new CompletableFuture<>();
        Http2StreamChannel stream = open(new SimpleChannelInboundHandler<FullHttpResponse>() {
            @Override
            protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse r) {
                done.complete(new Response(r.status().code(), r.headers().get(HttpHeaderNames.CONTENT_TYPE),
                        r.content().toString(CharsetUtil.UTF_8)));
            }
        }, true);
        stream.writeAndFlush(request);
        return done.orTimeout(10, TimeUnit.SECONDS);
    }

    /** Sends {@code request} on a new stream that the caller may close (reset) once {@code firstContent} completes. */
    Http2StreamChannel sendStreaming(FullHttpRequest request, CompletableFuture<String> firstContent) throws InterruptedException {
        Http2StreamChannel stream = open(new SimpleChannelInboundHandler<HttpObject>() {
            @Override
            protected void channelRead0(ChannelHandlerContext ctx, HttpObject o) {
                if (o instanceof HttpContent c && c.content().isReadable()) {
                    firstContent.complete(c.content().toString(CharsetUtil.UTF_8));
                }
            }
        }, false);
        stream.writeAndFlush(request);
        return stream;
    }

    private Http2StreamChannel open(ChannelHandler handler, boolean aggregate) throws InterruptedException {
        return new Http2StreamChannelBootstrap(connection).handler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast(new Http2StreamFrameToHttpObjectCodec(false));
                if (aggregate) {
                    ch.pipeline().addLast(new HttpObjectAggregator(16 << 20));
                }
                ch.pipeline().addLast(handler);
            }
        }).open().sync().getNow();
    }

    @Override
    public void close() {
        connection.close().awaitUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
    }
}
