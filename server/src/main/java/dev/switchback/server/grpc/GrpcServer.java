package dev.switchback.server.grpc;

import dev.switchback.server.ProtocolServer;
import dev.switchback.server.generation.GenerationService;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The gRPC endpoint on Netty: {@code switchback.v1.Generation}, the standard {@code grpc.health.v1.Health} service
 * and server reflection (so grpcurl needs no .proto files), behind an optional API key. It does not own the
 * generation service: whoever assembled both closes that.
 */
public final class GrpcServer implements ProtocolServer {
    private static final Duration READINESS_POLL = Duration.ofMillis(100);

    private final GenerationService service;
    private final GrpcServerConfig config;
    private final HealthStatusManager health = new HealthStatusManager();
    private final HealthWatches watches = new HealthWatches();
    // Calls and response sends are short and many; virtual threads keep them off Netty's event loops cheaply.
    private final ExecutorService calls = Executors.newVirtualThreadPerTaskExecutor();
    private ReadinessWatch readiness;
    private Server server;

    public GrpcServer(GenerationService service, GrpcServerConfig config) {
        this.service = Objects.requireNonNull(service, "service");
        this.config = Objects.requireNonNull(config, "config");
    }

    /**
     * Binds and starts serving; health reports NOT_SERVING until the generation service is ready.
     *
     * @param port the port, 0 for any free one
     * @return the bound port
     */
    public synchronized int start(int port) throws IOException {
        if (server != null) {
            throw new IllegalStateException("already started on port " + server.getPort());
        }
        NettyServerBuilder builder = (config.host() == null
                        ? NettyServerBuilder.forPort(port)
                        : NettyServerBuilder.forAddress(new InetSocketAddress(config.host(), port)))
                .executor(calls)
                .addService(new GenerationGrpcService(service, calls))
                .addService(health.getHealthService())
                .addService(ProtoReflectionServiceV1.newInstance());
        builder.intercept(watches);
        if (config.apiKey() != null) {
            builder.intercept(new ApiKeyInterceptor(config.apiKey()));
        }
        // NOT_SERVING before the port opens: the health service starts out SERVING.
        readiness = new ReadinessWatch(service, health);
        readiness.start(READINESS_POLL);
        try {
            server = builder.build().start();
        } catch (IOException | RuntimeException e) {
            readiness.close();
            throw e;
        }
        return server.getPort();
    }

    @Override
    public String protocol() {
        return "grpc";
    }

    /** The bound port; -1 before {@link #start}. */
    @Override
    public synchronized int port() {
        return server == null ? -1 : server.getPort();
    }

    /**
     * Graceful stop: health turns NOT_SERVING for good; after the drain delay new calls are refused and health watches
     * end; running calls get the shutdown grace, then whatever is left is cancelled (which cancels its generations).
     */
    @Override
    public synchronized void close() {
        if (server == null || server.isShutdown()) {
            return;
        }
        health.enterTerminalState();
        readiness.close();
        try {
            Thread.sleep(config.drainDelay());
            server.shutdown();
            watches.closeAll();
            if (!server.awaitTermination(config.shutdownGrace().toNanos(), TimeUnit.NANOSECONDS)) {
                server.shutdownNow();
                server.awaitTermination(1, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            server.shutdownNow();
        } finally {
            calls.shutdown();
        }
    }
}
