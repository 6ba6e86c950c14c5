package dev.switchback.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.server.generation.EchoGenerationService;
import dev.switchback.server.grpc.GrpcFixture;
import dev.switchback.server.grpc.GrpcServerConfig;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The gRPC transport against a real gRPC server over the echo test double. */
class GrpcTransportTest {
    private final GrpcFixture grpc = new GrpcFixture();
    private final SwitchbackClient client = SwitchbackClient.connect("grpc://127.0.0.1:" + grpc.port);

    @AfterEach
    void close() throws InterruptedException {
        client.close();
        grpc.close();
    }

    @Test
    void completeReturnsTextFinishReasonAndUsage() {
        Completion c = client.complete(CompletionRequest.of(EchoGenerationService.MODEL, "hello world").withMaxTokens(5));
        assertEquals("hello", c.text());
        assertEquals("length", c.finishReason());
        assertEquals(new Completion.Usage(11, 5, 16), c.usage());
        assertEquals("echo", c.model());
        assertTrue(c.id().startsWith("cmpl-echo-"), c.id());
    }

    @Test
    void sendsTheRequestSettings() {
        client.complete(CompletionRequest.of("echo", "a b").withMaxTokens(7).withTemperature(0.25).withStop(List.of("b")));
        var sent = grpc.echo.requests().getLast();
        assertEquals(7, sent.sampling().maxTokens());
        assertEquals(0.25, sent.sampling().temperature());
        assertEquals(List.of("b"), sent.sampling().stop());
        assertTrue(sent.timeout() != null && sent.timeout().compareTo(Duration.ofMinutes(5)) <= 0, "the deadline travels");
    }

    @Test
    void streamHandsOnEachPieceAndReturnsTheWhole() {
        List<String> pieces = new ArrayList<>();
        Completion c = client.stream(CompletionRequest.of("echo", "abc"), pieces::add);
        assertEquals(List.of("a", "b", "c"), pieces);
        assertEquals("abc", c.text());
        assertEquals("stop", c.finishReason());
        assertEquals(new Completion.Usage(3, 3, 6), c.usage());
    }

    @Test
    void aConsumerThatThrowsEndsTheCallAndTheGeneration() throws Exception {
        try (GrpcFixture slow = new GrpcFixture(Duration.ofMillis(20), GrpcServerConfig.defaults());
                SwitchbackClient c = SwitchbackClient.connect("grpc://127.0.0.1:" + slow.port)) {
            RuntimeException stop = new IllegalStateException("enough");
            RuntimeException thrown = assertThrows(RuntimeException.class, () -> c.stream(
                    CompletionRequest.of("echo", "x".repeat(300)).withMaxTokens(300), p -> {
                        throw stop;
                    }));
            assertEquals(stop, thrown);
            GrpcFixture.eventually(Duration.ofSeconds(2), () -> slow.echo.cancelled().size() == 1, "generation cancelled");
        }
    }

    @Test
    void listsModels() {
        assertEquals(List.of("echo"), client.models());
    }

    @Test
    void errorsCarryTheHttpStatusTheCodeAndTheServersMessage() {
        SwitchbackException e = assertThrows(SwitchbackException.class, () -> client.complete(CompletionRequest.of("nope", "x")));
        assertEquals(404, e.status());
        assertEquals("NOT_FOUND", e.type());
        assertEquals("no model named 'nope'", e.getMessage());

        assertEquals(429, assertThrows(SwitchbackException.class,
                () -> client.stream(CompletionRequest.of("fail:RESOURCE_EXHAUSTED", "x"), p -> {})).status());
        assertEquals(400, assertThrows(SwitchbackException.class,
                () -> client.complete(CompletionRequest.of("echo", "x").withTemperature(1e40))).status());
    }

    @Test
    void theRequestTimeoutIsTheDeadline() throws Exception {
        try (GrpcFixture slow = new GrpcFixture(Duration.ofMillis(20), GrpcServerConfig.defaults());
                SwitchbackClient c = SwitchbackClient.builder().url("grpc://127.0.0.1:" + slow.port)
                        .requestTimeout(Duration.ofMillis(200)).build()) {
            SwitchbackException e = assertThrows(SwitchbackException.class,
                    () -> c.complete(CompletionRequest.of("echo", "x".repeat(100)).withMaxTokens(100)));
            assertEquals(504, e.status());
            assertEquals("DEADLINE_EXCEEDED", e.type());
        }
    }

    @Test
    void theApiKeyIsSentAsABearerToken() throws Exception {
        try (GrpcFixture keyed = new GrpcFixture(Duration.ZERO, GrpcServerConfig.defaults().withApiKey("sk-2"));
                SwitchbackClient without = SwitchbackClient.connect("grpc://127.0.0.1:" + keyed.port);
                SwitchbackClient with = SwitchbackClient.builder().url("grpc://127.0.0.1:" + keyed.port).apiKey("sk-2").build()) {
            SwitchbackException e = assertThrows(SwitchbackException.class, without::models);
            assertEquals(401, e.status());
            assertEquals("UNAUTHENTICATED", e.type());
            assertEquals(List.of("echo"), with.models());
        }
    }

    @Test
    void anUnreachableServerIsAConnectionError() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        try (SwitchbackClient nowhere = SwitchbackClient.connect("grpc://127.0.0.1:" + port)) {
            SwitchbackException e = assertThrows(SwitchbackException.class, nowhere::models);
            assertEquals(0, e.status());
            assertEquals("connection_error", e.type());
            assertTrue(e.getMessage().startsWith("cannot connect to grpc://127.0.0.1:" + port), e.getMessage());
        }
    }
}
