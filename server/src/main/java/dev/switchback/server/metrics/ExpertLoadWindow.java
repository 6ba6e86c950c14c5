package dev.switchback.server.metrics;

import dev.switchback.kernels.placement.LayerPlacement;

/**
 * Expert token counts of the last {@code steps} forward steps, per sparse layer, for the load-imbalance gauge:
 * a cumulative counter hides a router that has only recently collapsed onto a few experts.
 */
final class ExpertLoadWindow {
    private final int layers;
    private final int experts;
    private final long[][] ring; // [step slot][layer * experts + expert]
    private final long[] sums;
    private int next;

    ExpertLoadWindow(int layers, int experts, int steps) {
        if (steps < 1) {
            throw new IllegalArgumentException("steps must be >= 1, got " + steps);
        }
        this.layers = layers;
        this.experts = experts;
        this.ring = new long[steps][layers * experts];
        this.sums = new long[layers * experts];
    }

    /** Adds one step's counts ({@code [layer * experts + expert]}), forgetting the oldest step. */
    void add(long[] counts) {
        long[] slot = ring[next];
        for (int i = 0; i < sums.length; i++) {
            sums[i] += counts[i] - slot[i];
            slot[i] = counts[i];
        }
        next = (next + 1) % ring.length;
    }

    /** Max over mean of the layer's expert counts in the window; NaN while the window holds no token. */
    double imbalance(int layer) {
        long max = 0;
        long total = 0;
        for (int e = 0; e < experts; e++) {
            long n = sums[layer * experts + e];
            max = Math.max(max, n);
            total += n;
        }
        return total == 0 ? Double.NaN : max / (total / (double) experts);
    }

    /**
     * Max over mean of the devices' token loads for the layer in the window, each expert's tokens split over the
     * devices holding it as {@code placement} splits them; NaN while the window holds no token.
     */
    double deviceImbalance(int layer, LayerPlacement placement) {
        long[] tokens = new long[experts];
        long total = 0;
        for (int e = 0; e < experts; e++) {
            tokens[e] = sums[layer * experts + e];
            total += tokens[e];
        }
        return total == 0 ? Double.NaN : LayerPlacement.imbalance(placement.deviceLoad(tokens));
    }

    int layers() {
        return layers;
    }
}
