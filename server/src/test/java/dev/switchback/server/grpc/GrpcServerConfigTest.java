package dev.switchback.server.grpc;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class GrpcServerConfigTest {
    @Test
    void badSettingsAreRefusedNamingTheField() {
        GrpcServerConfig d = GrpcServerConfig.defaults();
        assertMessage("host", () -> d.withHost(" "));
        assertMessage("apiKey", () -> d.withApiKey(""));
        assertMessage("apiKey", () -> d.withApiKey("has space"));
        assertMessage("drainDelay", () -> d.withDrainDelay(Duration.ofSeconds(-1)));
        assertMessage("shutdownGrace", () -> d.withShutdownGrace(null));
    }

    private static void assertMessage(String field, Runnable build) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, build::run);
        assertTrue(e.getMessage().startsWith(field + " "), e.getMessage());
    }
}
