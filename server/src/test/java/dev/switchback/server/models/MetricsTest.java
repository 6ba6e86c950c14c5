package dev.switchback.server.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.kernels.sampling.SamplingParams;
import dev.switchback.server.generation.GenerationRequest;
import dev.switchback.server.scheduler.Scheduler;
import dev.switchback.store.ModelStore;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The /metrics text: every family under its exact name and labels, with values that agree with what was served. */
class MetricsTest {
    private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)})? (\\S+)$");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"([^\"]*)\"");

    @TempDir
    static Path root;
    static ModelStore store;

    @BeforeAll
    static void publish() {
        store = new ModelStore(root);
        ServableModels.publish(store, "tiny-switch", ServableModels.switchUnbounded(), 11);
    }

    static String text(PrometheusRegistry registry) {
        return PrometheusTextFormatWriter.create().toDebugString(registry.scrape());
    }

    /** The sum of the samples named {@code sample} whose labels include {@code labels} (name, value, ...). */
    static double value(PrometheusRegistry registry, String sample, String... labels) {
        double sum = 0;
        for (String line : text(registry).split("\n")) {
            Matcher m = SAMPLE.matcher(line);
            if (!m.matches() || !m.group(1).equals(sample)) {
                continue;
            }
            Map<String, String> found = new HashMap<>();
            Matcher l = LABEL.matcher(m.group(3) == null ? "" : m.group(3));
            while (l.find()) {
                found.put(l.group(1), l.group(2));
            }
            boolean all = true;
            for (int i = 0; i < labels.length; i += 2) {
                all &= labels[i + 1].equals(found.get(labels[i]));
            }
            if (all) {
                sum += Double.parseDouble(m.group(4));
            }
        }
        return sum;
    }

    @Test
    void everyFamilyIsExposedWithItsLabelsAndValuesAgreeWithTheRequests() {
        PrometheusRegistry registry = new PrometheusRegistry();
        int requests = 5;
        int prompts = 0;
        int generated = 0;
        int fed = 0;
        try (EngineGenerationService service = new EngineGenerationService(store,
                ServerOptions.defaults().withModels(List.of("tiny-switch")).withPrefixCacheBytes(0), registry)) {
            service.started().join();
            for (int i = 0; i < requests; i++) {
                Recorder r = new Recorder();
                service.submit(new GenerationRequest("tiny-switch", GenerationTest.prompt(i), SamplingParams.greedy(6 + i),
                        false, null), r);
                var usage = r.await().completion().usage();
                prompts += usage.promptTokens();
                generated += usage.completionTokens();
                // Every token goes through the engine once, except the last one sampled.
                fed += usage.promptTokens() + usage.completionTokens() - 1;
            }
            Scheduler.Stats stats = ServableModels.awaitIdle(service.scheduler("tiny-switch"));
            String text = text(registry);
            for (String family : List.of("switchback_expert_tokens_total", "switchback_expert_dropped_tokens_total",
                    "switchback_expert_compute_seconds", "switchback_expert_load_imbalance",
                    "switchback_time_to_first_token_seconds", "switchback_inter_token_latency_seconds",
                    "switchback_request_latency_seconds", "switchback_requests_running", "switchback_requests_waiting",
                    "switchback_batch_size", "switchback_kv_cache_usage_ratio", "switchback_prefix_cache_hit_ratio",
                    "switchback_prefix_cache_hit_tokens_total", "switchback_prefix_cache_miss_tokens_total",
                    "switchback_prompt_tokens_total", "switchback_generation_tokens_total", "switchback_preemptions_total",
                    "switchback_requests_finished_total")) {
                assertTrue(text.contains("# TYPE " + family + " "), family + " is exposed:\n" + text);
            }
            String model = "tiny-switch";
            for (int e = 0; e < 4; e++) {
                assertTrue(text.contains("switchback_expert_tokens_total{device=\"cpu\",expert=\"" + e
                        + "\",layer=\"1\",model=\"tiny-switch\"}"), "expert " + e + " of sparse block 1, on the CPU:\n" + text);
            }
            // The native engine holds F32 weights: 4 bytes per parameter, all on the one CPU device.
            long parameters = ServableModels.config(ServableModels.switchUnbounded()).totalParameters();
            assertEquals(4.0 * parameters, value(registry, "switchback_device_memory_bytes", "model", model, "device", "cpu"), 0,
                    "the model's weights on its device");
            assertFalse(text.contains("layer=\"0\""), "block 0 is dense and has no experts");
            assertEquals(fed, value(registry, "switchback_expert_tokens_total", "model", model, "layer", "1"), 0,
                    "every token fed met one expert of the sparse block");
            assertEquals(0, value(registry, "switchback_expert_dropped_tokens_total", "model", model), 0);
            assertTrue(value(registry, "switchback_expert_compute_seconds_count", "model", model) > 0);
            double imbalance = value(registry, "switchback_expert_load_imbalance", "model", model, "layer", "1");
            assertTrue(imbalance >= 1 && imbalance <= 4, "max/mean of 4 experts lies in [1, 4]: " + imbalance);
            assertEquals(prompts, value(registry, "switchback_prompt_tokens_total", "model", model), 0);
            assertEquals(generated, value(registry, "switchback_generation_tokens_total", "model", model), 0);
            assertEquals(requests, value(registry, "switchback_time_to_first_token_seconds_count", "model", model), 0);
            assertEquals(generated - requests, value(registry, "switchback_inter_token_latency_seconds_count", "model", model), 0);
            assertEquals(requests, value(registry, "switchback_request_latency_seconds_count", "model", model), 0);
            assertTrue(value(registry, "switchback_request_latency_seconds_sum", "model", model) > 0);
            assertEquals(stats.steps(), value(registry, "switchback_batch_size_count", "model", model), 0);
            assertEquals(requests, value(registry, "switchback_requests_finished_total", "model", model), 0);
            assertEquals(0, value(registry, "switchback_requests_running", "model", model), 0);
            assertEquals(0, value(registry, "switchback_requests_waiting", "model", model), 0);
            assertEquals(0, value(registry, "switchback_kv_cache_usage_ratio", "model", model), 0);
            assertEquals(prompts, value(registry, "switchback_prefix_cache_miss_tokens_total", "model", model), 0);
            assertEquals(0, value(registry, "switchback_prefix_cache_hit_ratio", "model", model), 0);
        }
        assertEquals(0, value(registry, "switchback_device_memory_bytes", "model", "tiny-switch", "device", "cpu"), 0,
                "a stopped model holds nothing");
    }
}
