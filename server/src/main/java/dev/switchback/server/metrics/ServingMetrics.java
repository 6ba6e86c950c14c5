package dev.switchback.server.metrics;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.Unit;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * The server's metric families, registered once on a registry; {@link #forModel} binds them to one model's
 * labels. Every family is labelled by {@code model}, the expert families also by {@code layer} and {@code expert}.
 */
public final class ServingMetrics {
    private static final double[] LATENCY_SECONDS = {.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60};
    private static final double[] TOKEN_GAP_SECONDS = {.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5};
    private static final double[] REQUEST_SECONDS = {.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300};
    private static final double[] EXPERT_SECONDS = {1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4, .001, .005, .01, .05, .1};
    private static final double[] BATCH_SIZES = {1, 2, 4, 8, 16, 32, 64, 128, 256};

    final Counter expertTokens;
    final Counter expertDropped;
    final Histogram expertCompute;
    final Gauge expertImbalance;
    final Gauge deviceImbalance;
    final Gauge deviceMemory;
    final Histogram timeToFirstToken;
    final Histogram interTokenLatency;
    final Histogram requestLatency;
    final Gauge running;
    final Gauge waiting;
    final Histogram batchSize;
    final Gauge kvUsage;
    final Gauge prefixHitRatio;
    final Counter prefixHitTokens;
    final Counter prefixMissTokens;
    final Counter promptTokens;
    final Counter generationTokens;
    final Counter preemptions;
    final Counter finished;

    public ServingMetrics(PrometheusRegistry registry) {
        expertTokens = Counter.builder().name("switchback_expert_tokens_total")
                .help("Token assignments computed by each expert").labelNames("model", "layer", "expert", "device").register(registry);
        expertDropped = Counter.builder().name("switchback_expert_dropped_tokens_total")
                .help("Token assignments over an expert's capacity, passed through the residual")
                .labelNames("model", "layer", "expert", "device").register(registry);
        expertCompute = Histogram.builder().name("switchback_expert_compute_seconds")
                .help("Compute time of an expert in one forward step, summed over the threads that ran it").classicOnly().classicUpperBounds(EXPERT_SECONDS)
                .labelNames("model", "layer", "expert", "device").register(registry);
        expertImbalance = Gauge.builder().name("switchback_expert_load_imbalance")
                .help("Max over mean of expert token counts over the recent steps (1 is perfectly balanced)")
                .labelNames("model", "layer").register(registry);
        deviceImbalance = Gauge.builder().name("switchback_device_load_imbalance")
                .help("Max over mean of the expert tokens each device computed over the recent steps, for a model whose experts"
                        + " are spread over several devices (an expert with copies splits its tokens between them; 1 is balanced)")
                .labelNames("model", "layer").register(registry);
        deviceMemory = Gauge.builder().name("switchback_device_memory_bytes")
                .help("Bytes a model holds on each device: its weights, and on a GPU its KV cache and work buffers too")
                .labelNames("model", "device").unit(Unit.BYTES).register(registry);
        timeToFirstToken = histogram("switchback_time_to_first_token_seconds", "From submission to the first token",
                LATENCY_SECONDS, registry);
        interTokenLatency = histogram("switchback_inter_token_latency_seconds", "Between consecutive tokens of a request",
                TOKEN_GAP_SECONDS, registry);
        requestLatency = histogram("switchback_request_latency_seconds", "From submission to the end of a request",
                REQUEST_SECONDS, registry);
        running = gauge("switchback_requests_running", "Requests in the running batch", registry);
        waiting = gauge("switchback_requests_waiting", "Requests queued for admission (preempted ones included)", registry);
        batchSize = histogram("switchback_batch_size", "Sequences per forward step", BATCH_SIZES, registry);
        kvUsage = gauge("switchback_kv_cache_usage_ratio", "Share of KV blocks in use (prefix-cached ones included)", registry);
        prefixHitRatio = gauge("switchback_prefix_cache_hit_ratio", "Prompt tokens found in the prefix cache over all prompt tokens",
                registry);
        prefixHitTokens = counter("switchback_prefix_cache_hit_tokens_total", "Prompt tokens whose KV came from the prefix cache",
                registry);
        prefixMissTokens = counter("switchback_prefix_cache_miss_tokens_total", "Prompt tokens computed for want of a cached prefix",
                registry);
        promptTokens = counter("switchback_prompt_tokens_total", "Prompt tokens of admitted requests", registry);
        generationTokens = counter("switchback_generation_tokens_total", "Tokens generated", registry);
        preemptions = counter("switchback_preemptions_total", "Running requests preempted for KV blocks (recomputed later)",
                registry);
        finished = Counter.builder().name("switchback_requests_finished_total")
                .help("Requests ended, by reason: stop, length, cancelled, deadline_exceeded, error")
                .labelNames("model", "reason").register(registry);
    }

    /** The metrics of one model on one device; experts are labelled for its sparse layers only. */
    public ModelMetrics forModel(String model, List<Integer> sparseLayers, int experts) {
        return new ModelMetrics(this, model, sparseLayers, experts, (layer, expert) -> "cpu", Map.of());
    }

    /**
     * The metrics of one model: experts are labelled for its sparse layers only, each with the device(s)
     * {@code expertDevice} names; {@code deviceBytes} is what the model holds on each device.
     */
    public ModelMetrics forModel(String model, List<Integer> sparseLayers, int experts,
            BiFunction<Integer, Integer, String> expertDevice, Map<String, Long> deviceBytes) {
        return new ModelMetrics(this, model, sparseLayers, experts, expertDevice, deviceBytes);
    }

    private static Histogram histogram(String name, String help, double[] bounds, PrometheusRegistry registry) {
        return Histogram.builder().name(name).help(help).classicOnly().classicUpperBounds(bounds).labelNames("model")
                .register(registry);
    }

    private static Gauge gauge(String name, String help, PrometheusRegistry registry) {
        return Gauge.builder().name(name).help(help).labelNames("model").register(registry);
    }

    private static Counter counter(String name, String help, PrometheusRegistry registry) {
        return Counter.builder().name(name).help(help).labelNames("model").register(registry);
    }
}
