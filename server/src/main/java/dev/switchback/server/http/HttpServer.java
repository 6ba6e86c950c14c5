package dev.switchback.server.http;

import dev.switchback.server.ProtocolServer;
import dev.switchback.server.generation.GenerationService;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The OpenAI-compatible HTTP front door on Netty: HTTP/1.1 with keep-alive and cleartext HTTP/2 (upgrade and
 * prior knowledge) on one port.
 *
 * <pre>{@code
 * HttpServer http = new HttpServer(service, registry, HttpServerOptions.defaults());
 * int port = http.start(8080);   // 0 picks a free port
 * ...
 * http.close();                  // stop accepting, drain in-flight requests (bounded), close
 * }</pre>
 *
 * <p>Routes: {@code POST /v1/completions}, {@code POST /v1/chat/completions}, {@code GET /v1/models},
 * {@code GET /health/live}, {@code GET /health/ready}, {@code GET /metrics}, {@code GET /v2/repository/index},
 * {@code POST /v2/repository/models/{name}/load} and {@code .../unload}.
 */
public final class HttpServer implements ProtocolServer {
    private static final System.Logger LOG = System.getLogger(HttpServer.class.getName());
    private static final int ACCEPT_BACKLOG = 1024;
    private static final long LOOP_SHUTDOWN_SECONDS = 2;

    private final HttpServerOptions options;
    private final InFlight inFlight = new InFlight();
    private final ExecutorService offloadThreads = Executors.newVirtualThreadPerTaskExecutor();
    private final ChannelGroup channels = new DefaultChannelGroup("switchback-http", GlobalEventExecutor.INSTANCE);
    /**
     * Netty's native epoll transport where it loads (Linux), else NIO: epoll spends less of the event loop's time
     * per write, and a streamed token is one write.
     */
    private static final boolean EPOLL = Epoll.isAvailable();
    private final EventLoopGroup acceptors = new MultiThreadIoEventLoopGroup(1, ioHandlers());
    private final EventLoopGroup workers;
    private final ConnectionInitializer initializer;
    private volatile boolean draining;
    private Channel serverChannel;
    private boolean closed;

    public HttpServer(GenerationService service, PrometheusRegistry registry, HttpServerOptions options) {
        if (service == null || registry == null || options == null) {
            throw new IllegalArgumentException("service, registry and options are required");
        }
        this.options = options;
        this.workers = new MultiThreadIoEventLoopGroup(options.effectiveIoThreads(), ioHandlers());
        Responses responses = new Responses(options.retryAfterSeconds());
        Offload offload = new Offload(offloadThreads, responses, inFlight);
        ModelEndpoints models = new ModelEndpoints(service, offload, options.clock().instant().getEpochSecond());
        HealthEndpoints health = new HealthEndpoints(service, () -> draining);
        Router router = new Router(responses, List.of(
                new Router.Route(HttpMethod.POST, "/v1/completions", new GenerationEndpoint(
                        ResponseFormat.TEXT_COMPLETION, service, offload, inFlight, responses, options)),
                new Router.Route(HttpMethod.POST, "/v1/chat/completions", new GenerationEndpoint(
                        ResponseFormat.CHAT_COMPLETION, service, offload, inFlight, responses, options)),
                new Router.Route(HttpMethod.GET, "/v1/models", models::list),
                new Router.Route(HttpMethod.GET, "/health/live", health::live),
                new Router.Route(HttpMethod.GET, "/health/ready", health::ready),
                new Router.Route(HttpMethod.GET, "/metrics", new MetricsEndpoint(registry, offload)),
                new Router.Route(HttpMethod.GET, "/v2/repository/index", models::index),
                new Router.Route(HttpMethod.POST, "/v2/repository/models/{name}/load", models::load),
                new Router.Route(HttpMethod.POST, "/v2/repository/models/{name}/unload", models::unload)));
        RequestChain chain = new RequestChain(options.maxBodyBytes(),
                new OversizedBodyResponder(responses, options.maxBodyBytes()),
                options.apiKey() == null ? null : new ApiKeyAuthenticator(options.apiKey(), responses),
                new DrainGate(() -> draining, responses), router, new ConnectionErrors());
        this.initializer = new ConnectionInitializer(chain, channels, options.maxBodyBytes(), options.maxConcurrentStreams());
    }

    /**
     * Binds {@code options.host()} and {@code port} and starts serving.
     *
     * @param port the port, or 0 for any free one
     * @return the bound port
     * @throws IOException when the address cannot be bound
     */
    public synchronized int start(int port) throws IOException {
        if (serverChannel != null || closed) {
            throw new IllegalStateException("an HttpServer starts once");
        }
        ChannelFuture bound = new ServerBootstrap()
                .group(acceptors, workers)
                .channel(EPOLL ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, ACCEPT_BACKLOG)
                // Tokens are small writes that must leave at once.
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(initializer)
                .bind(options.host(), port)
                .awaitUninterruptibly();
        if (!bound.isSuccess()) {
            shutDownThreads();
            closed = true;
            throw new IOException("cannot listen on " + options.host() + ":" + port, bound.cause());
        }
        serverChannel = bound.channel();
        LOG.log(System.Logger.Level.DEBUG, "HTTP listening on {0} ({1}) with {2}", serverChannel.localAddress(),
                EPOLL ? "epoll" : "nio", options);
        return port();
    }

    private static IoHandlerFactory ioHandlers() {
        return EPOLL ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    }

    /** Whether the server runs on Netty's native epoll transport (else NIO). */
    static boolean nativeTransport() {
        return EPOLL;
    }

    @Override
    public String protocol() {
        return "http";
    }

    @Override
    public synchronized int port() {
        if (serverChannel == null) {
            throw new IllegalStateException("not started");
        }
        return ((InetSocketAddress) serverChannel.localAddress()).getPort();
    }

    /** Requests being answered now (generations, model loads, scrapes). */
    int inFlight() {
        return inFlight.count();
    }

    /**
     * Stops accepting connections, answers new requests on open ones with 503, waits up to
     * {@code options.shutdownGrace()} for in-flight requests (streams included) to finish, then closes every
     * connection (cancelling what is left) and stops the threads. Does not shut the service down.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        // The listening socket closes first: once /health/ready answers 503, new connections are already refused.
        if (serverChannel != null) {
            serverChannel.close().awaitUninterruptibly();
        }
        draining = true;
        try {
            if (!inFlight.awaitIdle(options.shutdownGrace())) {
                LOG.log(System.Logger.Level.INFO, "{0} HTTP requests still running after {1}; cutting them",
                        inFlight.count(), options.shutdownGrace());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        channels.close().awaitUninterruptibly();
        shutDownThreads();
    }

    private void shutDownThreads() {
        workers.shutdownGracefully(0, LOOP_SHUTDOWN_SECONDS, TimeUnit.SECONDS).awaitUninterruptibly();
        acceptors.shutdownGracefully(0, LOOP_SHUTDOWN_SECONDS, TimeUnit.SECONDS).awaitUninterruptibly();
        offloadThreads.shutdownNow();
    }
}
