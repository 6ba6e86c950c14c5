package dev.switchback.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.handler.codec.http2.Http2StreamChannel;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ProtocolsTest extends ServerTestBase {
    private static final String COMPLETION = "{\"model\":\"echo\",\"prompt\":\"abc\"}";
    private static final String STREAM = "{\"model\":\"echo\",\"prompt\":\"abc\",\"stream\":true}";

    /** On Linux x86-64 (where the native library ships with the server) the loops run on epoll, not NIO. */
    @Test
    void linuxServesOnNettysNativeEpollTransport() {
        org.junit.jupiter.api.Assumptions.assumeTrue(System.getProperty("os.name").equals("Linux")
                && System.getProperty("os.arch").equals("amd64"), "the linux-x86_64 epoll library is the one bundled");
        assertTrue(HttpServer.nativeTransport(), "epoll did not load: " + io.netty.channel.epoll.Epoll.unavailabilityCause());
    }

    @Test
    void http11KeepAliveServesManyRequestsOnOneConnection() throws Exception {
        try (RawHttp1 conn = new RawHttp1(port)) {
            for (int i = 0; i < 3; i++) {
                conn.send(RawHttp1.request("POST", "/v1/completions", COMPLETION));
                RawHttp1.Response json = conn.read();
                assertEquals(200, json.status());
                assertTrue(json.body().contains("\"text\":\"abc\""), json.body());
                conn.send(RawHttp1.request("POST", "/v1/completions", STREAM));
                RawHttp1.Response sse = conn.read();
                assertEquals(200, sse.status());
                assertEquals("chunked", sse.headers().get("transfer-encoding"));
                assertTrue(sse.body().endsWith("data: [DONE]\n\n"), sse.body());
                conn.send(RawHttp1.request("GET", "/health/live", null));
                assertEquals(200, conn.read().status());
            }
        }
        assertEquals(6, service.submitted.size());
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrder() throws Exception {
        service.tokenDelay = Duration.ofMillis(10);
        try (RawHttp1 conn = new RawHttp1(port)) {
            // A slow stream, then requests that would finish first if answered out of order.
            conn.send(RawHttp1.request("POST", "/v1/completions", STREAM)
                    + RawHttp1.request("GET", "/health/live", null)
                    + RawHttp1.request("GET", "/v1/nowhere", null)
                    + RawHttp1.request("POST", "/v1/completions", COMPLETION));
            RawHttp1.Response first = conn.read();
            assertTrue(first.body().endsWith("data: [DONE]\n\n"), first.body());
            assertEquals("{\"status\":\"live\"}", conn.read().body());
            assertEquals(404, conn.read().status());
            RawHttp1.Response last = conn.read();
            assertEquals(200, last.status());
            assertTrue(last.body().contains("\"text\":\"abc\""), last.body());
        }
    }

    @Test
    void connectionCloseIsHonoured() throws Exception {
        try (RawHttp1 conn = new RawHttp1(port)) {
            conn.send(RawHttp1.request("GET", "/health/live", null, "Connection: close"));
            RawHttp1.Response r = conn.read();
            assertEquals(200, r.status());
            assertEquals("close", r.headers().get("connection"));
            assertTrue(conn.closedByServer());
        }
    }

    @Test
    void h2cUpgradeServesJsonAndStreams() throws Exception {
        try (HttpClient h2 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build()) {
            // The first request carries Upgrade: h2c; its answer and everything after travel over HTTP/2.
            HttpResponse<String> first = h2.send(HttpRequest.newBuilder(uri("/v1/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString(COMPLETION)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(HttpClient.Version.HTTP_2, first.version());
            assertEquals(200, first.statusCode(), first.body());
            assertTrue(first.body().contains("\"text\":\"abc\""), first.body());

            HttpResponse<String> stream = h2.send(HttpRequest.newBuilder(uri("/v1/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString(STREAM)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(HttpClient.Version.HTTP_2, stream.version());
            assertEquals("text/event-stream", stream.headers().firstValue("content-type").orElseThrow());
            assertTrue(stream.headers().firstValue("transfer-encoding").isEmpty());
            assertTrue(stream.body().endsWith("data: [DONE]\n\n"), stream.body());

            HttpResponse<String> error = h2.send(HttpRequest.newBuilder(uri("/v1/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"nope\",\"prompt\":\"x\"}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(HttpClient.Version.HTTP_2, error.version());
            assertError(error, 404, "invalid_request_error", "model");

            HttpResponse<String> health = h2.send(HttpRequest.newBuilder(uri("/health/ready")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(HttpClient.Version.HTTP_2, health.version());
            assertEquals(200, health.statusCode());
        }
    }

    @Test
    void h2cUpgradeStartingWithAGet() throws Exception {
        try (HttpClient h2 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build()) {
            HttpResponse<String> models = h2.send(HttpRequest.newBuilder(uri("/v1/models")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(HttpClient.Version.HTTP_2, models.version());
            assertTrue(models.body().startsWith("{\"object\":\"list\""), models.body());
        }
    }

    @Test
    void h2PriorKnowledgeServesJsonStreamsAndErrors() throws Exception {
        try (H2PriorKnowledgeClient h2 = new H2PriorKnowledgeClient(port)) {
            H2PriorKnowledgeClient.Response json = h2.send(H2PriorKnowledgeClient.post("/v1/completions", COMPLETION)).get();
            assertEquals(200, json.status());
            assertTrue(json.body().contains("\"text\":\"abc\""), json.body());

            // Several streams at once on the one connection.
            CompletableFuture<H2PriorKnowledgeClient.Response> a = h2.send(H2PriorKnowledgeClient.post("/v1/completions", STREAM));
            CompletableFuture<H2PriorKnowledgeClient.Response> b = h2.send(H2PriorKnowledgeClient.post("/v1/chat/completions",
                    "{\"model\":\"echo\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],\"max_tokens\":3,\"stream\":true}"));
            assertEquals("text/event-stream", a.get().contentType());
            assertTrue(a.get().body().endsWith("data: [DONE]\n\n"));
            assertTrue(b.get().body().contains("\"object\":\"chat.completion.chunk\""), b.get().body());

            H2PriorKnowledgeClient.Response bad = h2.send(H2PriorKnowledgeClient.post("/v1/completions", "{nope")).get();
            assertEquals(400, bad.status());
            assertTrue(bad.body().startsWith("{\"error\":{\"message\":\"invalid JSON"), bad.body());
        }
    }

    @Test
    void h2StreamResetMidStreamCancelsAtOnce() throws Exception {
        service.tokenDelay = Duration.ofMillis(20);
        try (H2PriorKnowledgeClient h2 = new H2PriorKnowledgeClient(port)) {
            CompletableFuture<String> first = new CompletableFuture<>();
            Http2StreamChannel stream = h2.sendStreaming(H2PriorKnowledgeClient.post("/v1/completions",
                    "{\"model\":\"echo\",\"prompt\":\"" + "q".repeat(500) + "\",\"max_tokens\":500,\"stream\":true}"), first);
            assertTrue(first.get(10, TimeUnit.SECONDS).startsWith("data: "));
            assertNull(service.cancelled.peek());
            stream.close().sync();
            assertEquals("cmpl-test1", service.awaitCancel(Duration.ofSeconds(2)));

            // The connection itself is unharmed.
            assertEquals(200, h2.send(H2PriorKnowledgeClient.post("/v1/completions", COMPLETION)).get().status());
        }
    }

    @Test
    void bodyLimitAndApiKeyApplyToHttp2StreamsToo() throws Exception {
        start(options().withMaxBodyBytes(256).withApiKey("k"));
        try (H2PriorKnowledgeClient h2 = new H2PriorKnowledgeClient(port)) {
            assertEquals(401, h2.send(H2PriorKnowledgeClient.post("/v1/completions", COMPLETION)).get().status());
            var big = H2PriorKnowledgeClient.post("/v1/completions", "{\"prompt\":\"" + "x".repeat(1000) + "\"}");
            big.headers().set("authorization", "Bearer k");
            H2PriorKnowledgeClient.Response r = h2.send(big).get();
            assertEquals(413, r.status());
            assertNotNull(r.body());
            var ok = H2PriorKnowledgeClient.post("/v1/completions", COMPLETION);
            ok.headers().set("authorization", "Bearer k");
            assertEquals(200, h2.send(ok).get().status());
        }
    }
}
