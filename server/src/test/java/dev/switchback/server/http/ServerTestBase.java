package dev.switchback.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** A real server on a loopback port over {@link ProtocolTestGenerationService}, and an HTTP/1.1 client. */
abstract class ServerTestBase {
    static final long CREATED = 1_700_000_000L;
    static final ObjectMapper MAPPER = new ObjectMapper();

    ProtocolTestGenerationService service;
    PrometheusRegistry registry;
    HttpServer server;
    int port;
    HttpClient client;

    HttpServerOptions options() {
        return HttpServerOptions.defaults()
                .withHost("127.0.0.1")
                .withIoThreads(2)
                .withShutdownGrace(Duration.ofSeconds(2))
                .withClock(InstantSource.fixed(Instant.ofEpochSecond(CREATED)));
    }

    @BeforeEach
    void startServer() throws IOException {
        service = new ProtocolTestGenerationService();
        registry = new PrometheusRegistry();
        start(options());
        client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    }

    void start(HttpServerOptions options) throws IOException {
        if (server != null) {
            server.close();
        }
        server = new HttpServer(service, registry, options);
        port = server.start(0);
    }

    @AfterEach
    void stopServer() {
        client.close();
        server.close();
        service.shutdown(Duration.ZERO);
    }

    URI uri(String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    HttpResponse<String> post(String path, String json) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(10))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(10)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static JsonNode json(HttpResponse<String> r) throws IOException {
        return MAPPER.readTree(r.body());
    }

    /** An OpenAI error body with exactly message, type, param and code, and no trace of Java in it. */
    static JsonNode assertError(HttpResponse<String> r, int status, String type, String param) throws IOException {
        return assertError(r.statusCode(), r.headers().firstValue("content-type").orElse(null), r.body(), status, type, param);
    }

    static JsonNode assertError(int actualStatus, String contentType, String text, int status, String type, String param)
            throws IOException {
        assertEquals(status, actualStatus, text);
        assertEquals("application/json", contentType);
        JsonNode body = MAPPER.readTree(text);
        assertEquals(1, body.size(), text);
        JsonNode error = body.get("error");
        assertEquals(4, error.size(), text);
        assertTrue(error.get("message").isTextual() && !error.get("message").asText().isEmpty(), text);
        assertEquals(type, error.get("type").asText());
        if (param == null) {
            assertTrue(error.get("param").isNull(), text);
        } else {
            assertEquals(param, error.get("param").asText(), text);
        }
        assertTrue(error.has("code"));
        assertNoTrace(text);
        return error;
    }

    static void assertNoTrace(String body) {
        assertFalse(body.contains("Exception"), body);
        assertFalse(body.contains("\tat "), body);
        assertFalse(body.contains("dev.switchback"), body);
        assertFalse(body.contains("io.netty"), body);
    }
}
