package dev.switchback.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ConnectException;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ShutdownTest extends ServerTestBase {
    @Override
    HttpServerOptions options() {
        return super.options().withShutdownGrace(Duration.ofSeconds(5));
    }

    @Test
    void closeLetsInFlightStreamsFinishWhileRefusingNewWork() throws Exception {
        service.gate = new CompletableFuture<>();
        CompletableFuture<HttpResponse<String>> stream = client.sendAsync(HttpRequest.newBuilder(uri("/v1/completions"))
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"echo\",\"prompt\":\"drain me\",\"stream\":true}")).build(),
                HttpResponse.BodyHandlers.ofString());
        try (RawHttp1 open = new RawHttp1(port)) {
            open.send(RawHttp1.request("GET", "/health/ready", null));
            assertEquals(200, open.read().status());
            while (service.submitted.isEmpty()) {
                Thread.sleep(5);
            }

            CompletableFuture<Void> closing = CompletableFuture.runAsync(server::close);
            int ready;
            do {
                open.send(RawHttp1.request("GET", "/health/ready", null));
                ready = open.read().status();
            } while (ready == 200);
            assertEquals(503, ready);
            assertThrows(ConnectException.class, () -> new Socket("127.0.0.1", port).close());
            open.send(RawHttp1.request("POST", "/v1/completions", "{\"model\":\"echo\",\"prompt\":\"x\"}"));
            RawHttp1.Response refused = open.read();
            assertEquals(503, refused.status());
            assertEquals("close", refused.headers().get("connection"));
            assertError(refused.status(), refused.headers().get("content-type"), refused.body(), 503, "server_error", null);
            assertTrue(open.closedByServer());

            assertTrue(!closing.isDone(), "close returned while a stream was in flight");
            service.gate.complete(null);
            HttpResponse<String> drained = stream.get(5, TimeUnit.SECONDS);
            assertEquals(200, drained.statusCode());
            assertTrue(drained.body().endsWith("\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"), drained.body());
            closing.get(5, TimeUnit.SECONDS);
        }
        assertEquals(null, service.cancelled.peek());
    }

    @Test
    void closeCutsWhatOutlivesTheGrace() throws Exception {
        start(options().withShutdownGrace(Duration.ofMillis(300)));
        service.gate = new CompletableFuture<>(); // never released
        CompletableFuture<HttpResponse<String>> stream = client.sendAsync(HttpRequest.newBuilder(uri("/v1/completions"))
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"echo\",\"prompt\":\"x\"}")).build(),
                HttpResponse.BodyHandlers.ofString());
        while (service.submitted.isEmpty()) {
            Thread.sleep(5);
        }
        long t0 = System.nanoTime();
        server.close();
        long millis = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(millis < 4000, "close took " + millis + " ms");
        assertNotNull(service.awaitCancel(Duration.ofSeconds(1)));
        assertThrows(ExecutionException.class, () -> stream.get(5, TimeUnit.SECONDS));
    }

    @Test
    void closeIsIdempotentAndQuickWhenIdle() {
        long t0 = System.nanoTime();
        server.close();
        server.close();
        assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(4).toNanos());
    }
}
