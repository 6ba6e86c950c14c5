package dev.switchback.server;

import dev.switchback.server.generation.GenerationService;
import dev.switchback.server.grpc.GrpcServer;
import dev.switchback.server.grpc.GrpcServerConfig;
import dev.switchback.server.http.HttpServer;
import dev.switchback.server.http.HttpServerOptions;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A whole switchback server: the protocol front doors (HTTP and gRPC) over one
 * {@link GenerationService}. This is what {@code switchback serve} builds.
 *
 * <pre>{@code
 * try (SwitchbackServer server = new SwitchbackServer(service, registry, SwitchbackServer.Options.defaults())) {
 *     server.start();
 *     ...
 * }   // front doors drain and close first, then the service
 * }</pre>
 *
 * <p>The server owns the service it is given: {@link #close()} shuts it down after the front doors.
 */
public final class SwitchbackServer implements AutoCloseable {
    /**
     * @param httpPort the HTTP port; 0 picks a free one
     * @param http the HTTP front door's settings
     * @param grpcPort the gRPC port; 0 picks a free one, −1 serves no gRPC
     * @param grpc the gRPC front door's settings
     * @param serviceShutdownGrace how long the service may finish its work once the front doors are closed
     */
    public record Options(int httpPort, HttpServerOptions http, int grpcPort, GrpcServerConfig grpc, Duration serviceShutdownGrace) {
        public Options {
            if (httpPort < 0 || httpPort > 65535) {
                throw new IllegalArgumentException("httpPort must be in [0, 65535], got " + httpPort);
            }
            if (grpcPort < -1 || grpcPort > 65535) {
                throw new IllegalArgumentException("grpcPort must be in [0, 65535] or -1 for none, got " + grpcPort);
            }
            if (http == null) {
                throw new IllegalArgumentException("http is required");
            }
            if (grpc == null) {
                throw new IllegalArgumentException("grpc is required");
            }
            if (serviceShutdownGrace == null || serviceShutdownGrace.isNegative()) {
                throw new IllegalArgumentException("serviceShutdownGrace must be >= 0, got " + serviceShutdownGrace);
            }
        }

        /** HTTP only. */
        public Options(int httpPort, HttpServerOptions http, Duration serviceShutdownGrace) {
            this(httpPort, http, -1, GrpcServerConfig.defaults(), serviceShutdownGrace);
        }

        /** HTTP on 8080 and gRPC on 9090 with default settings; 5 s for the service to stop. */
        public static Options defaults() {
            return new Options(8080, HttpServerOptions.defaults(), 9090, GrpcServerConfig.defaults(), Duration.ofSeconds(5));
        }
    }

    private final GenerationService service;
    private final PrometheusRegistry registry;
    private final Options options;
    // In start order; closed in reverse.
    private final List<ProtocolServer> servers = new ArrayList<>();
    private boolean started;
    private boolean closed;

    public SwitchbackServer(GenerationService service, PrometheusRegistry registry, Options options) {
        if (service == null || registry == null || options == null) {
            throw new IllegalArgumentException("service, registry and options are required");
        }
        this.service = service;
        this.registry = registry;
        this.options = options;
    }

    /** Starts every front door; if one cannot bind, those already started are closed again. */
    public synchronized void start() throws IOException {
        if (started) {
            throw new IllegalStateException("a SwitchbackServer starts once");
        }
        started = true;
        try {
            HttpServer http = new HttpServer(service, registry, options.http());
            http.start(options.httpPort());
            servers.add(http);
            if (options.grpcPort() >= 0) {
                GrpcServer grpc = new GrpcServer(service, options.grpc());
                servers.add(grpc);
                grpc.start(options.grpcPort());
            }
        } catch (IOException | RuntimeException e) {
            closeServers();
            throw e;
        }
    }

    /** The started front doors, in start order. */
    public synchronized List<ProtocolServer> servers() {
        return List.copyOf(servers);
    }

    /** The bound port of the front door named {@code protocol} (e.g. "http"). */
    public synchronized int port(String protocol) {
        return servers.stream()
                .filter(s -> s.protocol().equals(protocol))
                .findFirst()
                .orElseThrow(() -> new IllegalStateException("no " + protocol + " server started"))
                .port();
    }

    /** Closes the front doors (each drains its in-flight requests), then shuts the service down. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        closeServers();
        service.shutdown(options.serviceShutdownGrace());
    }

    private void closeServers() {
        for (int i = servers.size() - 1; i >= 0; i--) {
            servers.get(i).close();
        }
        servers.clear();
    }
}
