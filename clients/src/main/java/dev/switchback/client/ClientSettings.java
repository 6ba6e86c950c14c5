package dev.switchback.client;

import java.net.URI;
import java.time.Duration;

/** What both transports need to know, checked by the builder. */
record ClientSettings(URI url, boolean tls, String apiKey, Duration connectTimeout, Duration requestTimeout) {
    /** The URL without a trailing slash, so paths append cleanly. */
    String base() {
        String s = url.toString();
        return s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
    }

    int port(int fallback) {
        return url.getPort() >= 0 ? url.getPort() : fallback;
    }
}
