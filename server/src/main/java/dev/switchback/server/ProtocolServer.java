package dev.switchback.server;

/** One protocol front door of a {@link SwitchbackServer} (HTTP, gRPC), started and bound to a port. */
public interface ProtocolServer extends AutoCloseable {
    /** A short name for logs and status, e.g. {@code "http"}. */
    String protocol();

    /** The port it listens on. */
    int port();

    /** Stops accepting, lets in-flight requests finish within its grace, then releases everything. Idempotent. */
    @Override
    void close();
}
