package dev.switchback.kernels.routing;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Running per-expert counters of one model: assignments routed and dropped, and compute time, by (layer, expert).
 * Ladder passes add to the same layer. Safe to read from any thread while the engine writes.
 */
public final class ExpertStats {
    private final int layers;
    private final int experts;
    private final AtomicLongArray routed;
    private final AtomicLongArray dropped;
    private final AtomicLongArray computeNanos;

    public ExpertStats(int layers, int experts) {
        this.layers = layers;
        this.experts = Math.max(experts, 1);
        this.routed = new AtomicLongArray(layers * this.experts);
        this.dropped = new AtomicLongArray(layers * this.experts);
        this.computeNanos = new AtomicLongArray(layers * this.experts);
    }

    /** Adds one layer's routing outcome. */
    public void record(int layer, RoutePlan plan) {
        for (int e = 0; e < plan.experts(); e++) {
            routed.addAndGet(layer * experts + e, plan.routed()[e]);
            dropped.addAndGet(layer * experts + e, plan.dropped()[e]);
        }
    }

    /** Sets running totals kept elsewhere (a device's counters, copied back with each step's results). */
    public void setTotals(int layer, int expert, long routedTotal, long droppedTotal) {
        routed.set(layer * experts + expert, routedTotal);
        dropped.set(layer * experts + expert, droppedTotal);
    }

    /** Adds compute time of an expert (summed over the threads that ran it, when several split it). */
    public void addComputeNanos(int layer, int expert, long nanos) {
        computeNanos.addAndGet(layer * experts + expert, nanos);
    }

    public long routed(int layer, int expert) {
        return routed.get(layer * experts + expert);
    }

    public long dropped(int layer, int expert) {
        return dropped.get(layer * experts + expert);
    }

    public long computeNanos(int layer, int expert) {
        return computeNanos.get(layer * experts + expert);
    }

    public int layers() {
        return layers;
    }

    public int experts() {
        return experts;
    }
}
