package dev.switchback.server.grpc;

import static dev.switchback.server.grpc.GenerateTest.request;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.server.generation.GenerationException.Kind;
import dev.switchback.server.grpc.proto.GenerateRequest;
import dev.switchback.server.grpc.proto.GenerateStreamResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class StatusMappingTest {
    private static GrpcFixture grpc;

    @BeforeAll
    static void start() {
        grpc = new GrpcFixture();
    }

    @AfterAll
    static void stop() throws InterruptedException {
        grpc.close();
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void aRefusalAtSubmitBecomesItsStatusWithItsMessage(Kind kind) {
        GenerateRequest r = request("abc").setModel("fail:" + kind).build();
        Status unary = assertThrows(StatusRuntimeException.class, () -> grpc.blocking().generate(r)).getStatus();
        Status stream = assertThrows(StatusRuntimeException.class,
                () -> grpc.blocking().generateStream(r).forEachRemaining(m -> {})).getStatus();
        for (Status s : List.of(unary, stream)) {
            assertEquals(kind.grpcCode(), s.getCode().name());
            assertEquals("echo refuses: " + kind, s.getDescription());
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void aFailureAfterSubmitBecomesItsStatusAfterTheTokensSentSoFar(Kind kind) {
        GenerateRequest r = request("abc").setModel("fail-late:" + kind).build();
        Status unary = assertThrows(StatusRuntimeException.class, () -> grpc.blocking().generate(r)).getStatus();
        assertEquals(kind.grpcCode(), unary.getCode().name());
        assertEquals("echo failed late: " + kind, unary.getDescription());

        List<String> texts = new ArrayList<>();
        Iterator<GenerateStreamResponse> stream = grpc.blocking().generateStream(r);
        Status streamed = assertThrows(StatusRuntimeException.class,
                () -> stream.forEachRemaining(m -> texts.add(m.getText()))).getStatus();
        assertEquals(List.of("a"), texts);
        assertEquals(kind.grpcCode(), streamed.getCode().name());
        assertEquals("echo failed late: " + kind, streamed.getDescription());
    }

    @Test
    void anUnknownModelIsNotFound() {
        Status s = assertThrows(StatusRuntimeException.class,
                () -> grpc.blocking().generate(request("abc").setModel("nope").build())).getStatus();
        assertEquals(Status.Code.NOT_FOUND, s.getCode());
        assertEquals("no model named 'nope'", s.getDescription());
    }

    @Test
    void badSettingsAreInvalidArgumentsNamingTheField() {
        assertInvalid(request("abc").setModel(""), "model is required");
        assertInvalid(request("abc").setTemperature(-1), "temperature must be >= 0");
        assertInvalid(request("abc").setTopP(1.5f), "topP must be in (0, 1]");
        assertInvalid(request("abc").setTopK(-2), "topK must be >= 0");
        assertInvalid(request("abc").setRepetitionPenalty(0), "repetitionPenalty must be > 0");
        assertInvalid(request("abc").setMaxTokens(-3), "max_tokens must be >= 0");
        assertInvalid(request("abc").addStop(""), "stop[0] must be a non-empty string");
    }

    @Test
    void aDeadlinePassingMidGenerationIsDeadlineExceeded() throws Exception {
        try (GrpcFixture slow = new GrpcFixture(Duration.ofMillis(20), GrpcServerConfig.defaults())) {
            Status s = assertThrows(StatusRuntimeException.class,
                    () -> slow.blocking().withDeadlineAfter(200, TimeUnit.MILLISECONDS)
                            .generate(request("x".repeat(100)).setMaxTokens(100).build())).getStatus();
            assertEquals(Status.Code.DEADLINE_EXCEEDED, s.getCode());
            Duration timeout = slow.echo.requests().getLast().timeout();
            assertTrue(timeout.compareTo(Duration.ofMillis(200)) <= 0, "timeout " + timeout);
        }
    }

    @Test
    void failuresCarryNoStackTrace() {
        Status s = assertThrows(StatusRuntimeException.class,
                () -> grpc.blocking().generate(request("abc").setModel("fail:INTERNAL").build())).getStatus();
        assertFalse(s.getDescription().contains("\tat "), s.getDescription());
        assertEquals(null, s.getCause(), "a client never sees a server-side cause");
    }

    private static void assertInvalid(GenerateRequest.Builder r, String message) {
        Status s = assertThrows(StatusRuntimeException.class, () -> grpc.blocking().generate(r.build())).getStatus();
        assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode(), message);
        assertTrue(s.getDescription().startsWith(message), s.getDescription());
    }
}
