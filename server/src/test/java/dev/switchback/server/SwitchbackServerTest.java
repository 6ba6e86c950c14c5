package dev.switchback.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.server.generation.GenerationListener;
import dev.switchback.server.generation.GenerationRequest;
import dev.switchback.server.generation.GenerationService;
import dev.switchback.server.http.HttpServerOptions;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

class SwitchbackServerTest {
    /** Just enough of a service to start and stop around. */
    private static final class IdleService implements GenerationService {
        volatile Duration shutdownGrace;

        @Override
        public Handle submit(GenerationRequest request, GenerationListener listener) {
            throw new UnsupportedOperationException();
        }

        @Override
        public List<ModelCard> models() {
            return List.of();
        }

        @Override
        public boolean ready() {
            return true;
        }

        @Override
        public CompletableFuture<ModelCard> load(String name) {
            return CompletableFuture.failedFuture(new UnsupportedOperationException());
        }

        @Override
        public CompletableFuture<Void> unload(String name) {
            return CompletableFuture.failedFuture(new UnsupportedOperationException());
        }

        @Override
        public void shutdown(Duration grace) {
            shutdownGrace = grace;
        }
    }

    private static SwitchbackServer.Options options(int port) {
        return new SwitchbackServer.Options(port, HttpServerOptions.defaults().withHost("127.0.0.1").withIoThreads(1),
                Duration.ofMillis(250));
    }

    @Test
    void startsHttpAndClosesTheServiceAfterIt() throws Exception {
        IdleService service = new IdleService();
        SwitchbackServer server = new SwitchbackServer(service, new PrometheusRegistry(), options(0));
        server.start();
        assertEquals(List.of("http"), server.servers().stream().map(ProtocolServer::protocol).toList());
        int port = server.port("http");
        assertTrue(port > 0);
        try (HttpClient client = HttpClient.newHttpClient()) {
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health/ready")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode());
        }
        assertThrows(IllegalStateException.class, server::start);
        server.close();
        server.close();
        assertEquals(Duration.ofMillis(250), service.shutdownGrace);
        assertTrue(server.servers().isEmpty());
    }

    @Test
    void aPortInUseFailsStartWithAnIOException() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            SwitchbackServer server = new SwitchbackServer(new IdleService(), new PrometheusRegistry(), options(taken.getLocalPort()));
            assertThrows(IOException.class, server::start);
            assertTrue(server.servers().isEmpty());
            server.close();
        }
    }

    @Test
    void optionsAreChecked() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new SwitchbackServer.Options(70000, HttpServerOptions.defaults(), Duration.ZERO));
        assertTrue(e.getMessage().startsWith("httpPort"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> HttpServerOptions.defaults().withMaxBodyBytes(0));
        assertTrue(e.getMessage().startsWith("maxBodyBytes"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> HttpServerOptions.defaults().withApiKey(" "));
        assertTrue(e.getMessage().startsWith("apiKey"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> HttpServerOptions.defaults().withRequestTimeout(Duration.ZERO));
        assertTrue(e.getMessage().startsWith("requestTimeout"), e.getMessage());
        assertTrue(HttpServerOptions.defaults().withApiKey("secret").toString().contains("apiKey=set"));
    }
}
