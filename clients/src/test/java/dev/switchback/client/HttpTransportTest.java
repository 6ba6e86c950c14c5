package dev.switchback.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class HttpTransportTest {
    private final OpenAiFixture server = new OpenAiFixture();
    private final SwitchbackClient client = SwitchbackClient.connect(server.url());

    @AfterEach
    void close() {
        client.close();
        server.close();
    }

    @Test
    void completeReturnsTextFinishReasonAndUsage() {
        Completion c = client.complete(CompletionRequest.of("fixed", "Say hello"));
        assertEquals(new Completion("cmpl-fixed-1", "fixed", "Hello, world!", "stop", new Completion.Usage(3, 4, 7)), c);
    }

    @Test
    void sendsTheOpenAiRequestBody() {
        client.complete(CompletionRequest.of("fixed", "Say hello").withMaxTokens(5).withTemperature(0.5)
                .withStop(List.of("\n", "END")));
        assertEquals("{\"model\":\"fixed\",\"prompt\":\"Say hello\",\"max_tokens\":5,\"temperature\":0.5,"
                + "\"stop\":[\"\\n\",\"END\"]}", server.lastBody.toString());
        assertEquals(null, server.lastAuthorization);

        client.complete(CompletionRequest.of("fixed", "x"));
        assertEquals("{\"model\":\"fixed\",\"prompt\":\"x\"}", server.lastBody.toString(), "server defaults are not sent");
    }

    @Test
    void streamHandsOnEachPieceAndReturnsTheWhole() {
        List<String> pieces = new ArrayList<>();
        Completion c = client.stream(CompletionRequest.of("fixed", "Say hello"), pieces::add);
        assertEquals(List.of("Hello", ", ", "world!"), pieces);
        assertEquals(new Completion("cmpl-fixed-1", "fixed", "Hello, world!", "stop", new Completion.Usage(3, 4, 7)), c);
        assertTrue(server.lastBody.path("stream").asBoolean());
        assertTrue(server.lastBody.path("stream_options").path("include_usage").asBoolean());
    }

    @Test
    void listsModels() {
        assertEquals(List.of("fixed", "other"), client.models());
    }

    @Test
    void errorsCarryTheStatusAndTheServersMessage() {
        SwitchbackException e = assertThrows(SwitchbackException.class, () -> client.complete(CompletionRequest.of("missing", "x")));
        assertEquals(404, e.status());
        assertEquals("invalid_request_error", e.type());
        assertEquals("The model 'missing' does not exist", e.getMessage());
        assertEquals("404 invalid_request_error: The model 'missing' does not exist", e.describe());

        SwitchbackException streamed = assertThrows(SwitchbackException.class,
                () -> client.stream(CompletionRequest.of("missing", "x"), p -> {}));
        assertEquals(404, streamed.status());
        assertEquals("The model 'missing' does not exist", streamed.getMessage());
    }

    @Test
    void aBodyThatIsNotAnOpenAiErrorIsQuoted() {
        SwitchbackException e = assertThrows(SwitchbackException.class, () -> client.complete(CompletionRequest.of("broken", "x")));
        assertEquals(502, e.status());
        assertEquals("<html><body>Bad Gateway</body></html>", e.getMessage());
    }

    @Test
    void aStreamMustEndWithDone() {
        List<String> pieces = new ArrayList<>();
        SwitchbackException e = assertThrows(SwitchbackException.class,
                () -> client.stream(CompletionRequest.of("cut", "x"), pieces::add));
        assertEquals(List.of("Hel"), pieces);
        assertEquals("the stream ended before data: [DONE]", e.getMessage());
    }

    @Test
    void anErrorInsideAStreamIsThrown() {
        SwitchbackException e = assertThrows(SwitchbackException.class,
                () -> client.stream(CompletionRequest.of("fails-mid-stream", "x"), p -> {}));
        assertEquals(0, e.status());
        assertEquals("server_error", e.type());
        assertEquals("engine failed", e.getMessage());
    }

    @Test
    void theApiKeyIsSentAsABearerToken() {
        try (OpenAiFixture keyed = new OpenAiFixture("sk-1");
                SwitchbackClient without = SwitchbackClient.connect(keyed.url());
                SwitchbackClient with = SwitchbackClient.builder().url(keyed.url()).apiKey("sk-1").build()) {
            SwitchbackException e = assertThrows(SwitchbackException.class, without::models);
            assertEquals(401, e.status());
            assertEquals("Incorrect API key provided", e.getMessage());
            assertEquals("Hello, world!", with.complete(CompletionRequest.of("fixed", "x")).text());
            assertEquals("Bearer sk-1", keyed.lastAuthorization);
        }
    }

    @Test
    void anUnreachableServerIsAConnectionError() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        try (SwitchbackClient nowhere = SwitchbackClient.connect("http://127.0.0.1:" + port)) {
            SwitchbackException e = assertThrows(SwitchbackException.class, nowhere::models);
            assertEquals(0, e.status());
            assertEquals("connection_error", e.type());
            assertTrue(e.getMessage().startsWith("cannot connect to http://127.0.0.1:" + port), e.getMessage());
            assertFalse(e.describe().contains("\n"), e.describe());
        }
    }
}
