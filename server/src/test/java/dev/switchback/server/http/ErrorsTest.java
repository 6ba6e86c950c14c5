package dev.switchback.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.switchback.server.generation.GenerationException.Kind;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ErrorsTest extends ServerTestBase {
    @Test
    void invalidJsonIs400WithoutInternals() throws Exception {
        JsonNode error = assertError(post("/v1/completions", "{\"model\": \"echo\", "), 400, "invalid_request_error", null);
        assertTrue(error.get("message").asText().startsWith("invalid JSON at line 1"), error.toString());
        assertError(post("/v1/completions", "{} []"), 400, "invalid_request_error", null);
        assertError(post("/v1/completions", ""), 400, "invalid_request_error", null);
        assertError(post("/v1/completions", "[1,2]"), 400, "invalid_request_error", null);
    }

    @Test
    void wrongTypesNameTheField() throws Exception {
        JsonNode error = assertError(post("/v1/completions", """
                {"model":"echo","prompt":"x","max_tokens":"ten"}"""), 400, "invalid_request_error", "max_tokens");
        assertEquals("max_tokens must be an integer, got a string \"ten\"", error.get("message").asText());
        assertError(post("/v1/completions", """
                {"model":"echo","prompt":"x","temperature":"hot"}"""), 400, "invalid_request_error", "temperature");
        assertError(post("/v1/completions", """
                {"model":"echo","prompt":"x","stream":"yes"}"""), 400, "invalid_request_error", "stream");
        assertError(post("/v1/completions", """
                {"model":"echo","prompt":"x","n":1.5}"""), 400, "invalid_request_error", "n");
        assertError(post("/v1/completions", """
                {"model":"echo","prompt":"x","seed":"s"}"""), 400, "invalid_request_error", "seed");
        assertError(post("/v1/completions", """
                {"model":"echo","prompt":"x","stop":[1]}"""), 400, "invalid_request_error", "stop");
        assertError(post("/v1/completions", """
                {"model":"echo","prompt":[1,2,3]}"""), 400, "invalid_request_error", "prompt");
        assertError(post("/v1/completions", """
                {"model":"echo","prompt":["a","b"]}"""), 400, "invalid_request_error", "prompt");
        assertError(post("/v1/completions", """
                {"model":7,"prompt":"x"}"""), 400, "invalid_request_error", "model");
        assertError(post("/v1/completions", """
                {"prompt":"x"}"""), 400, "invalid_request_error", "model");
        assertError(post("/v1/completions", """
                {"model":"echo"}"""), 400, "invalid_request_error", "prompt");
        assertTrue(service.submitted.isEmpty());
    }

    @Test
    void samplingRangesAreCheckedWithOpenAiNames() throws Exception {
        JsonNode error = assertError(post("/v1/completions", """
                {"model":"echo","prompt":"x","max_tokens":0}"""), 400, "invalid_request_error", "max_tokens");
        assertEquals("max_tokens must be >= 1, got 0", error.get("message").asText());
        assertError(post("/v1/completions", """
                {"model":"echo","prompt":"x","max_tokens":-5}"""), 400, "invalid_request_error", "max_tokens");
        error = assertError(post("/v1/completions", """
                {"model":"echo","prompt":"x","temperature":-0.1}"""), 400, "invalid_request_error", "temperature");
        assertEquals("temperature must be >= 0, got -0.1", error.get("message").asText());
        assertError(post("/v1/completions", """
                {"model":"echo","prompt":"x","top_p":0}"""), 400, "invalid_request_error", "top_p");
        assertError(post("/v1/completions", """
                {"model":"echo","prompt":"x","top_k":-1}"""), 400, "invalid_request_error", "top_k");
        assertError(post("/v1/completions", """
                {"model":"echo","prompt":"x","stop":[""]}"""), 400, "invalid_request_error", "stop");
        assertError(post("/v1/completions", """
                {"model":"echo","prompt":"x","n":0}"""), 400, "invalid_request_error", "n");
        assertError(post("/v1/completions", """
                {"model":"echo","prompt":"x","n":17}"""), 400, "invalid_request_error", "n");
        assertError(post("/v1/completions", """
                {"model":"echo","prompt":"x","logprobs":6}"""), 400, "invalid_request_error", "logprobs");
        assertError(post("/v1/chat/completions", """
                {"model":"echo","messages":[{"role":"user","content":"x"}],"max_completion_tokens":0}"""),
                400, "invalid_request_error", "max_completion_tokens");
        assertTrue(service.submitted.isEmpty());
    }

    @Test
    void unsupportedOptionsAreRefusedNotIgnored() throws Exception {
        assertError(post("/v1/completions", """
                {"model":"echo","prompt":"x","echo":true}"""), 400, "invalid_request_error", "echo");
        assertError(post("/v1/completions", """
                {"model":"echo","prompt":"x","best_of":2}"""), 400, "invalid_request_error", "best_of");
        assertError(post("/v1/completions", """
                {"model":"echo","prompt":"x","presence_penalty":0.5}"""), 400, "invalid_request_error", "presence_penalty");
        assertError(post("/v1/completions", """
                {"model":"echo","prompt":"x","logit_bias":{"50256":-100}}"""), 400, "invalid_request_error", "logit_bias");
        // Their neutral values are what many clients send by default.
        assertEquals(200, post("/v1/completions", """
                {"model":"echo","prompt":"x","echo":false,"best_of":1,"presence_penalty":0,"frequency_penalty":0,
                 "logit_bias":{},"suffix":null}""").statusCode());
    }

    @Test
    void unknownModelIs404() throws Exception {
        JsonNode error = assertError(post("/v1/completions", """
                {"model":"nope","prompt":"x"}"""), 404, "invalid_request_error", "model");
        assertEquals("model nope not found", error.get("message").asText());
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void everyRefusalKindMapsToItsStatus(Kind kind) throws Exception {
        service.refuseWith = kind;
        HttpResponse<String> r = post("/v1/completions", """
                {"model":"echo","prompt":"x"}""");
        assertError(r, kind.httpStatus(), kind.openAiType(), null);
        assertEquals(kind == Kind.RESOURCE_EXHAUSTED ? "1" : null, r.headers().firstValue("retry-after").orElse(null));
    }

    @ParameterizedTest
    @EnumSource(value = Kind.class, names = {"DEADLINE_EXCEEDED", "INTERNAL", "UNAVAILABLE"})
    void failuresAfterSubmissionMapToTheirStatus(Kind kind) throws Exception {
        service.failWith = kind;
        service.failAfterTokens = 2;
        assertError(post("/v1/completions", """
                {"model":"echo","prompt":"xyz"}"""), kind.httpStatus(), kind.openAiType(), null);
    }

    @Test
    void queueFullIs429WithRetryAfter() throws Exception {
        start(options().withRetryAfterSeconds(3));
        service.refuseWith = Kind.RESOURCE_EXHAUSTED;
        HttpResponse<String> r = post("/v1/chat/completions", """
                {"model":"echo","messages":[{"role":"user","content":"x"}]}""");
        assertError(r, 429, "rate_limit_error", null);
        assertEquals("3", r.headers().firstValue("retry-after").orElseThrow());
    }

    @Test
    void secondChoiceRefusedCancelsTheFirst() throws Exception {
        service.gate = new CompletableFuture<>();
        service.refuseWith = Kind.RESOURCE_EXHAUSTED;
        service.refuseFrom = 1;
        HttpResponse<String> r = post("/v1/completions", """
                {"model":"echo","prompt":"xyz","n":2}""");
        assertError(r, 429, "rate_limit_error", null);
        assertEquals(1, service.submitted.size());
        assertEquals("cmpl-test1", service.awaitCancel(Duration.ofSeconds(5)));
    }

    @Test
    void serviceThatNeverAnswersIsCutByTheBackstop() throws Exception {
        start(options().withRequestTimeout(Duration.ofMillis(200)));
        service.gate = new CompletableFuture<>(); // never released
        long t0 = System.nanoTime();
        HttpResponse<String> r = post("/v1/completions", """
                {"model":"echo","prompt":"x"}""");
        assertError(r, 504, "timeout_error", null);
        assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(5).toNanos());
        assertEquals("cmpl-test1", service.awaitCancel(Duration.ofSeconds(1)));
    }

    @Test
    void bodyOverTheLimitIs413AndTheConnectionCarriesOn() throws Exception {
        start(options().withMaxBodyBytes(1024));
        String big = "{\"model\":\"echo\",\"prompt\":\"" + "a".repeat(4000) + "\"}";
        JsonNode error = assertError(post("/v1/completions", big), 413, "invalid_request_error", null);
        assertEquals("request body is larger than 1024 bytes", error.get("message").asText());
        try (RawHttp1 conn = new RawHttp1(port)) {
            conn.send(RawHttp1.request("POST", "/v1/completions", big));
            assertEquals(413, conn.read().status());
            conn.send(RawHttp1.request("GET", "/health/live", null));
            assertEquals(200, conn.read().status());
        }
        assertTrue(service.submitted.isEmpty());
    }

    @Test
    void upgradeRequestOverTheLimitGetsTheSame413() throws Exception {
        start(options().withMaxBodyBytes(1024));
        String big = "{\"model\":\"echo\",\"prompt\":\"" + "a".repeat(4000) + "\"}";
        // java.net.http asks for h2c on a connection's first request, so this one goes through the upgrade handler.
        try (java.net.http.HttpClient h2 = java.net.http.HttpClient.newBuilder()
                .version(java.net.http.HttpClient.Version.HTTP_2).build()) {
            HttpResponse<String> r = h2.send(HttpRequest.newBuilder(uri("/v1/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString(big)).build(), HttpResponse.BodyHandlers.ofString());
            assertError(r, 413, "invalid_request_error", null);
            HttpResponse<String> next = h2.send(HttpRequest.newBuilder(uri("/v1/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"echo\",\"prompt\":\"x\"}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, next.statusCode(), next.body());
        }
    }

    @Test
    void chunkedBodyOverTheLimitIs413AndCloses() throws Exception {
        start(options().withMaxBodyBytes(1024));
        try (RawHttp1 conn = new RawHttp1(port)) {
            String chunk = "b".repeat(800);
            conn.send("POST /v1/completions HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + Integer.toHexString(chunk.length()) + "\r\n" + chunk + "\r\n"
                    + Integer.toHexString(chunk.length()) + "\r\n" + chunk + "\r\n0\r\n\r\n");
            RawHttp1.Response r = conn.read();
            assertEquals(413, r.status());
            assertEquals("close", r.headers().get("connection"));
            assertTrue(conn.closedByServer());
        }
    }

    @Test
    void unknownRouteIs404AndWrongMethodIs405() throws Exception {
        JsonNode error = assertError(get("/v1/nothing"), 404, "invalid_request_error", null);
        assertEquals("unknown route GET /v1/nothing", error.get("message").asText());
        HttpResponse<String> r = get("/v1/completions");
        assertError(r, 405, "invalid_request_error", null);
        assertEquals("POST", r.headers().firstValue("allow").orElseThrow());
        assertError(post("/v1/models", "{}"), 405, "invalid_request_error", null);
        assertError(post("/v2/repository/models/echo/reload", "{}"), 404, "invalid_request_error", null);
    }

    @Test
    void malformedHttpIs400AndCloses() throws Exception {
        try (RawHttp1 conn = new RawHttp1(port)) {
            conn.send("GET /health/live HTTP/1.1\r\nHost: t\r\nContent-Length: nope\r\n\r\n");
            RawHttp1.Response r = conn.read();
            assertEquals(400, r.status());
            assertNoTrace(r.body());
            assertTrue(conn.closedByServer());
        }
    }

    @Test
    void aFailingRequestDoesNotHarmOthers() throws Exception {
        service.tokenDelay = Duration.ofMillis(5);
        CompletableFuture<HttpResponse<String>> good = client.sendAsync(HttpRequest.newBuilder(uri("/v1/completions"))
                .POST(HttpRequest.BodyPublishers.ofString("""
                        {"model":"echo","prompt":"abcdefghij","stream":true}""")).build(),
                HttpResponse.BodyHandlers.ofString());
        for (int i = 0; i < 5; i++) {
            assertEquals(400, post("/v1/completions", "{oops").statusCode());
            assertEquals(404, post("/v1/completions", "{\"model\":\"nope\",\"prompt\":\"x\"}").statusCode());
        }
        HttpResponse<String> r = good.get();
        assertEquals(200, r.statusCode());
        assertTrue(r.body().endsWith("\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"), r.body());
    }

    @Test
    void apiKeyIsRequiredExceptForHealth() throws Exception {
        start(options().withApiKey("s3cret"));
        JsonNode error = assertError(post("/v1/completions", """
                {"model":"echo","prompt":"x"}"""), 401, "invalid_request_error", null);
        assertEquals("invalid_api_key", error.get("code").asText());
        HttpResponse<String> wrong = client.send(HttpRequest.newBuilder(uri("/v1/models"))
                .header("Authorization", "Bearer nope").build(), HttpResponse.BodyHandlers.ofString());
        assertError(wrong, 401, "invalid_request_error", null);
        assertEquals("Bearer", wrong.headers().firstValue("www-authenticate").orElseThrow());
        assertError(get("/metrics"), 401, "invalid_request_error", null);

        HttpResponse<String> right = client.send(HttpRequest.newBuilder(uri("/v1/completions"))
                .header("Authorization", "Bearer s3cret")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"echo\",\"prompt\":\"x\"}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, right.statusCode(), right.body());
        assertEquals(200, get("/health/live").statusCode());
        assertEquals(200, get("/health/ready").statusCode());
    }
}
