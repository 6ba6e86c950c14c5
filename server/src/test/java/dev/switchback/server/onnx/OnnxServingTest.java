package dev.switchback.server.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.switchback.server.http.HttpServer;
import dev.switchback.server.http.HttpServerOptions;
import dev.switchback.server.models.EngineGenerationService;
import dev.switchback.server.models.ServableModels;
import dev.switchback.server.models.ServerOptions;
import dev.switchback.store.ModelFiles;
import dev.switchback.store.ModelStore;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.onnx.OnnxExport;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A store holding a dense model and its ONNX export: the server answers /v1/completions on the export, through
 * ONNX Runtime with continuous batching, with the text the native engine gives on the same weights.
 */
class OnnxServingTest {
    static final String NATIVE = "tiny-dense";
    static final String ONNX = "tiny-dense-onnx";
    static final ObjectMapper MAPPER = new ObjectMapper();

    @TempDir
    static Path root;
    static PrometheusRegistry registry;
    static EngineGenerationService service;
    static HttpServer server;
    static HttpClient client;
    static int port;

    @BeforeAll
    static void start() throws Exception {
        ModelStore store = new ModelStore(root);
        Path dense = ServableModels.publish(store, NATIVE, new Architecture.Dense(), 31);
        try (OpenedModel opened = store.open(dense)) {
            OnnxExport.publish(opened, store, ONNX);
        }
        registry = new PrometheusRegistry();
        service = new EngineGenerationService(store, ServerOptions.defaults().withModels(List.of(NATIVE, ONNX)), registry);
        service.started().join();
        server = new HttpServer(service, registry, HttpServerOptions.defaults().withHost("127.0.0.1").withIoThreads(2));
        port = server.start(0);
        client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    }

    @AfterAll
    static void stop() {
        client.close();
        server.close();
        service.shutdown(Duration.ofSeconds(5));
    }

    static CompletableFuture<JsonNode> complete(String model, String prompt, int maxTokens) {
        String body = "{\"model\":\"" + model + "\",\"prompt\":\"" + prompt + "\",\"max_tokens\":" + maxTokens
                + ",\"temperature\":0}";
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/completions"))
                .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        return client.sendAsync(request, HttpResponse.BodyHandlers.ofString()).thenApply(r -> {
            assertEquals(200, r.statusCode(), r.body());
            try {
                return MAPPER.readTree(r.body());
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
    }

    @Test
    void theExportIsAStoreEntryWithoutSafetensorsWhoseChecksumsCoverModelOnnx() throws Exception {
        Path dir = new ModelStore(root).resolve(ONNX);
        assertTrue(Files.exists(dir.resolve(ModelFiles.ONNX)));
        assertFalse(Files.exists(dir.resolve(ModelFiles.WEIGHTS)));
        assertTrue(Files.readString(dir.resolve(ModelFiles.CHECKSUMS)).contains("  " + ModelFiles.ONNX));
    }

    @Test
    void greedyCompletionsOfTheExportEqualTheNativeEnginesUnderConcurrentLoad() {
        List<String> prompts = List.of("In the beginning the server loaded its models",
                "The scheduler computed one token for every sequence that was decoding",
                "Experts were chosen by the router",
                "When the cache of keys and values was full, the newest sequence was preempted",
                "Every request waited");
        List<JsonNode> expected = new ArrayList<>();
        for (String p : prompts) {
            expected.add(complete(NATIVE, p, 32).join());
        }
        // All at once, so the ONNX scheduler batches prompts of different lengths and decodes them together.
        List<CompletableFuture<JsonNode>> onnx = prompts.stream().map(p -> complete(ONNX, p, 32)).toList();
        for (int i = 0; i < prompts.size(); i++) {
            JsonNode r = onnx.get(i).join();
            assertEquals(ONNX, r.get("model").asText());
            assertEquals(expected.get(i).at("/choices/0/text").asText(), r.at("/choices/0/text").asText(), "prompt " + i);
            assertEquals(expected.get(i).at("/choices/0/finish_reason"), r.at("/choices/0/finish_reason"), "prompt " + i);
            assertEquals(expected.get(i).get("usage"), r.get("usage"), "prompt " + i);
        }
        // Long enough completions that a wrong KV cache would show.
        assertTrue(expected.stream().mapToInt(e -> e.at("/usage/completion_tokens").asInt()).sum() > 60, expected.toString());
    }

    @Test
    void servingMetricsCountTheExportsTokensAndHaveNoExpertSeries() {
        complete(ONNX, "Every request waited in the queue", 8).join();
        String text = PrometheusTextFormatWriter.create().toDebugString(registry.scrape());
        assertTrue(text.lines().anyMatch(l -> l.startsWith("switchback_generation_tokens_total{model=\"" + ONNX + "\"}")
                && Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)) >= 8), text);
        assertTrue(text.lines().anyMatch(l -> l.startsWith("switchback_batch_size_count{model=\"" + ONNX + "\"}")), text);
        assertFalse(text.lines().anyMatch(l -> l.startsWith("switchback_expert_") && l.contains("model=\"" + ONNX + "\"")), text);
    }
}
