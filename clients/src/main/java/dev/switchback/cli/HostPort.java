package dev.switchback.cli;

import java.net.InetSocketAddress;

/** A {@code HOST:PORT} flag value, checked when parsed. */
record HostPort(String host, int port) {
    /**
     * Parses {@code value} of flag {@code flag}; ports from {@code lowestPort} (0 where "any free port" makes sense) to
     * 65535.
     */
    static HostPort parse(String flag, String value, int lowestPort) {
        int colon = value.lastIndexOf(':');
        int port;
        try {
            port = Integer.parseInt(value.substring(colon + 1));
        } catch (NumberFormatException | StringIndexOutOfBoundsException e) {
            throw new IllegalArgumentException(flag + " must be HOST:PORT, got '" + value + "'");
        }
        if (colon <= 0 || port < lowestPort || port > 65535) {
            throw new IllegalArgumentException(flag + " must be HOST:PORT, got '" + value + "'");
        }
        return new HostPort(value.substring(0, colon), port);
    }

    InetSocketAddress address() {
        return new InetSocketAddress(host, port);
    }
}
