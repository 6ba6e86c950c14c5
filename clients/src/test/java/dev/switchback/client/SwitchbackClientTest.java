package dev.switchback.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class SwitchbackClientTest {
    @Test
    void theSchemePicksTheTransport() {
        try (SwitchbackClient http = SwitchbackClient.connect("http://localhost:8080");
                SwitchbackClient grpc = SwitchbackClient.connect("grpc://localhost:9090");
                SwitchbackClient forced = SwitchbackClient.builder().url("http://localhost:9090")
                        .transport(SwitchbackClient.Transport.GRPC).build()) {
            assertInstanceOf(HttpTransport.class, http);
            assertInstanceOf(GrpcTransport.class, grpc);
            assertInstanceOf(GrpcTransport.class, forced);
        }
    }

    @Test
    void badSettingsAreRefusedNamingTheField() {
        assertMessage("url is required", () -> SwitchbackClient.builder().build());
        assertMessage("url must start with", () -> SwitchbackClient.connect("ftp://x:1"));
        assertMessage("requestTimeout must be > 0", () -> SwitchbackClient.builder().requestTimeout(Duration.ZERO));
        assertMessage("connectTimeout must be > 0", () -> SwitchbackClient.builder().connectTimeout(null));
        assertMessage("model is required", () -> CompletionRequest.of(" ", "x"));
        assertMessage("prompt is required", () -> CompletionRequest.of("m", null));
        assertMessage("maxTokens must be >= 0", () -> CompletionRequest.of("m", "x").withMaxTokens(-1));
        assertMessage("temperature must be", () -> CompletionRequest.of("m", "x").withTemperature(Double.NaN));
        assertMessage("stop must not be null", () -> CompletionRequest.of("m", "x").withStop(null));
        assertEquals(List.of(), CompletionRequest.of("m", "x").stop());
    }

    private static void assertMessage(String start, Runnable r) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
        assertTrue(e.getMessage().startsWith(start), e.getMessage());
    }
}
