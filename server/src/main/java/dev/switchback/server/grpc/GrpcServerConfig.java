package dev.switchback.server.grpc;

import java.time.Duration;

/**
 * How the gRPC endpoint listens and shuts down.
 *
 * @param host address to bind, or null for every interface
 * @param apiKey key clients must send as {@code authorization: Bearer KEY}, or null for none
 * @param drainDelay how long health reports NOT_SERVING before the server stops taking calls, so load balancers
 *     move traffic away first
 * @param shutdownGrace how long running calls may finish after that before they are cancelled
 */
public record GrpcServerConfig(String host, String apiKey, Duration drainDelay, Duration shutdownGrace) {
    public GrpcServerConfig {
        if (host != null && host.isBlank()) {
            throw new IllegalArgumentException("host must be null (every interface) or an address, got a blank string");
        }
        if (apiKey != null && apiKey.isBlank()) {
            throw new IllegalArgumentException("apiKey must be null (no key) or non-blank, got a blank string");
        }
        if (apiKey != null && !apiKey.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
            throw new IllegalArgumentException("apiKey must be printable ASCII without spaces (it travels in metadata)");
        }
        if (drainDelay == null || drainDelay.isNegative()) {
            throw new IllegalArgumentException("drainDelay must be >= 0, got " + drainDelay);
        }
        if (shutdownGrace == null || shutdownGrace.isNegative()) {
            throw new IllegalArgumentException("shutdownGrace must be >= 0, got " + shutdownGrace);
        }
    }

    /** Every interface, no key, no drain delay, 5 s for running calls. */
    public static GrpcServerConfig defaults() {
        return new GrpcServerConfig(null, null, Duration.ZERO, Duration.ofSeconds(5));
    }

    public GrpcServerConfig withHost(String h) {
        return new GrpcServerConfig(h, apiKey, drainDelay, shutdownGrace);
    }

    public GrpcServerConfig withApiKey(String key) {
        return new GrpcServerConfig(host, key, drainDelay, shutdownGrace);
    }

    public GrpcServerConfig withDrainDelay(Duration d) {
        return new GrpcServerConfig(host, apiKey, d, shutdownGrace);
    }

    public GrpcServerConfig withShutdownGrace(Duration g) {
        return new GrpcServerConfig(host, apiKey, drainDelay, g);
    }
}
