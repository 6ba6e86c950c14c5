package dev.switchback.server.metrics;

import dev.switchback.kernels.placement.LayerPlacement;
import dev.switchback.kernels.routing.ExpertStats;
import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.datapoints.GaugeDataPoint;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * One loaded model's view of {@link ServingMetrics}: its label values bound once, and the engine's running
 * {@link ExpertStats} turned into per-step counts by diffing them after each forward step. One per engine, called
 * from its scheduler thread only; a model loaded again gets a new one over the same series, so its counters
 * keep counting (series stay after an unload for the same reason: a reload may already be using them).
 */
public final class ModelMetrics {
    /** Steps the load-imbalance gauge looks back over. */
    static final int IMBALANCE_WINDOW_STEPS = 64;

    private final ServingMetrics families;
    private final String model;
    private final int[] sparseLayers;
    private final int experts;
    private final CounterDataPoint[] expertTokens;
    private final CounterDataPoint[] expertDropped;
    private final DistributionDataPoint[] expertCompute;
    private final GaugeDataPoint[] imbalance;
    /** Per sparse layer, where its experts are when they are on several devices (else null), and that gauge. */
    private final LayerPlacement[] placement;
    private final GaugeDataPoint[] deviceImbalance;
    private final ExpertLoadWindow window;
    // Last values of the engine's cumulative counters, [sparse layer index * experts + expert].
    private final long[] lastRouted;
    private final long[] lastDropped;
    private final long[] lastNanos;
    private final long[] stepRouted;
    private final DistributionDataPoint timeToFirstToken;
    private final DistributionDataPoint interTokenLatency;
    private final DistributionDataPoint requestLatency;
    private final DistributionDataPoint batchSize;
    private final GaugeDataPoint running;
    private final GaugeDataPoint waiting;
    private final GaugeDataPoint kvUsage;
    private final GaugeDataPoint prefixHitRatio;
    private final CounterDataPoint prefixHitTokens;
    private final CounterDataPoint prefixMissTokens;
    private final CounterDataPoint promptTokens;
    private final CounterDataPoint generationTokens;
    private final CounterDataPoint preemptions;
    private final List<GaugeDataPoint> deviceMemory;

    ModelMetrics(ServingMetrics families, String model, List<Integer> sparseLayers, int experts,
            BiFunction<Integer, Integer, String> expertDevice, Map<String, Long> deviceBytes) {
        this.families = families;
        this.model = model;
        this.sparseLayers = sparseLayers.stream().mapToInt(Integer::intValue).toArray();
        this.experts = sparseLayers.isEmpty() ? 0 : experts;
        int cells = this.sparseLayers.length * this.experts;
        expertTokens = new CounterDataPoint[cells];
        expertDropped = new CounterDataPoint[cells];
        expertCompute = new DistributionDataPoint[cells];
        imbalance = new GaugeDataPoint[this.sparseLayers.length];
        placement = new LayerPlacement[this.sparseLayers.length];
        deviceImbalance = new GaugeDataPoint[this.sparseLayers.length];
        for (int i = 0; i < this.sparseLayers.length; i++) {
            String layer = String.valueOf(this.sparseLayers[i]);
            imbalance[i] = families.expertImbalance.labelValues(model, layer);
            for (int e = 0; e < this.experts; e++) {
                String expert = String.valueOf(e);
                String device = expertDevice.apply(this.sparseLayers[i], e);
                expertTokens[i * this.experts + e] = families.expertTokens.labelValues(model, layer, expert, device);
                expertDropped[i * this.experts + e] = families.expertDropped.labelValues(model, layer, expert, device);
                expertCompute[i * this.experts + e] = families.expertCompute.labelValues(model, layer, expert, device);
            }
            placement[i] = placement(this.sparseLayers[i], this.experts, expertDevice);
            if (placement[i] != null) {
                deviceImbalance[i] = families.deviceImbalance.labelValues(model, layer);
            }
        }
        deviceMemory = new ArrayList<>();
        deviceBytes.forEach((device, bytes) -> {
            GaugeDataPoint held = families.deviceMemory.labelValues(model, device);
            held.set(bytes);
            deviceMemory.add(held);
        });
        window = new ExpertLoadWindow(this.sparseLayers.length, this.experts, IMBALANCE_WINDOW_STEPS);
        lastRouted = new long[cells];
        lastDropped = new long[cells];
        lastNanos = new long[cells];
        stepRouted = new long[cells];
        timeToFirstToken = families.timeToFirstToken.labelValues(model);
        interTokenLatency = families.interTokenLatency.labelValues(model);
        requestLatency = families.requestLatency.labelValues(model);
        batchSize = families.batchSize.labelValues(model);
        running = families.running.labelValues(model);
        waiting = families.waiting.labelValues(model);
        kvUsage = families.kvUsage.labelValues(model);
        prefixHitRatio = families.prefixHitRatio.labelValues(model);
        prefixHitTokens = families.prefixHitTokens.labelValues(model);
        prefixMissTokens = families.prefixMissTokens.labelValues(model);
        promptTokens = families.promptTokens.labelValues(model);
        generationTokens = families.generationTokens.labelValues(model);
        preemptions = families.preemptions.labelValues(model);
        for (String reason : List.of("stop", "length", "cancelled", "deadline_exceeded", "error")) {
            families.finished.labelValues(model, reason);
        }
    }

    /**
     * Takes the engine's counters as they are now as the baseline, so counts from before serving (or from another
     * user of the engine) are not reported.
     */
    public void baseline(ExpertStats stats) {
        for (int i = 0; i < sparseLayers.length; i++) {
            for (int e = 0; e < experts; e++) {
                lastRouted[i * experts + e] = stats.routed(sparseLayers[i], e);
                lastDropped[i * experts + e] = stats.dropped(sparseLayers[i], e);
                lastNanos[i * experts + e] = stats.computeNanos(sparseLayers[i], e);
            }
        }
    }

    /** A request was admitted for the first time: its prompt, and how much of it the prefix cache held. */
    public void admitted(int prompt, int cachedTokens) {
        promptTokens.inc(prompt);
        prefixHitTokens.inc(cachedTokens);
        prefixMissTokens.inc(prompt - cachedTokens);
        // From the counters, not fields of this object, so the ratio spans reloads of the model.
        double hits = prefixHitTokens.get();
        double total = hits + prefixMissTokens.get();
        prefixHitRatio.set(total == 0 ? 0 : hits / total);
    }

    /** A token was generated, {@code nanos} after submission (first token) or after the previous token. */
    public void token(boolean first, long nanos) {
        generationTokens.inc();
        (first ? timeToFirstToken : interTokenLatency).observe(nanos / 1e9);
    }

    /** A request ended; {@code reason} is stop, length, cancelled, deadline_exceeded or error. */
    public void finished(String reason, long latencyNanos) {
        families.finished.labelValues(model, reason).inc();
        if (reason.equals("stop") || reason.equals("length")) {
            requestLatency.observe(latencyNanos / 1e9);
        }
    }

    /** The engine was closed: the model holds nothing on its devices any more. */
    public void released() {
        deviceMemory.forEach(g -> g.set(0));
    }

    public void preempted() {
        preemptions.inc();
    }

    /** One forward step of {@code sequences} sequences ran; the engine's expert counters moved by its tokens. */
    public void step(int sequences, ExpertStats stats) {
        batchSize.observe(sequences);
        if (experts == 0) {
            return;
        }
        for (int i = 0; i < sparseLayers.length; i++) {
            for (int e = 0; e < experts; e++) {
                int c = i * experts + e;
                long routed = stats.routed(sparseLayers[i], e);
                long dropped = stats.dropped(sparseLayers[i], e);
                long nanos = stats.computeNanos(sparseLayers[i], e);
                stepRouted[c] = routed - lastRouted[c];
                expertTokens[c].inc(stepRouted[c]);
                expertDropped[c].inc(dropped - lastDropped[c]);
                if (stepRouted[c] > 0) {
                    expertCompute[c].observe((nanos - lastNanos[c]) / 1e9);
                }
                lastRouted[c] = routed;
                lastDropped[c] = dropped;
                lastNanos[c] = nanos;
            }
        }
        window.add(stepRouted);
        for (int i = 0; i < sparseLayers.length; i++) {
            double ratio = window.imbalance(i);
            if (!Double.isNaN(ratio)) {
                imbalance[i].set(ratio);
            }
            if (placement[i] != null) {
                double devices = window.deviceImbalance(i, placement[i]);
                if (!Double.isNaN(devices)) {
                    deviceImbalance[i].set(devices);
                }
            }
        }
    }

    /**
     * The layer's experts over the devices their labels name (a label lists every device holding a copy, comma-separated),
     * or null when they are all on one device.
     */
    static LayerPlacement placement(int layer, int experts, BiFunction<Integer, Integer, String> expertDevice) {
        List<String> names = new ArrayList<>();
        int[][] on = new int[experts][];
        for (int e = 0; e < experts; e++) {
            String[] held = expertDevice.apply(layer, e).split(",");
            on[e] = new int[held.length];
            for (int j = 0; j < held.length; j++) {
                int d = names.indexOf(held[j]);
                if (d < 0) {
                    d = names.size();
                    names.add(held[j]);
                }
                on[e][j] = d;
            }
        }
        return names.size() < 2 ? null : new LayerPlacement(names.size(), on);
    }

    /** The scheduler's queues and KV pool after an iteration. */
    public void queues(int runningRequests, int waitingRequests, double kvUsageRatio) {
        running.set(runningRequests);
        waiting.set(waitingRequests);
        kvUsage.set(kvUsageRatio);
    }
}
