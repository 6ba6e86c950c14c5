package dev.switchback.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class HttpServerOptionsTest {
    @Test
    void eventLoopsDefaultToOnePerFourCoresAndAtLeastOne() {
        int cores = Runtime.getRuntime().availableProcessors();
        assertEquals(Math.max(1, cores / 4), HttpServerOptions.defaults().effectiveIoThreads());
        assertEquals(3, HttpServerOptions.defaults().withIoThreads(3).effectiveIoThreads(), "an explicit count wins");
        assertThrows(IllegalArgumentException.class, () -> HttpServerOptions.defaults().withIoThreads(-1));
    }
}
