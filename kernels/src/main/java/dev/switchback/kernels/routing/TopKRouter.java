package dev.switchback.kernels.routing;

import dev.switchback.kernels.cpu.ScalarKernels;

/**
 * Learned top-k routing (Switch when k = 1): softmax over the router logits in float32, the k most probable
 * experts (ties to the lower index), gates = their probabilities, renormalised over the k when k &gt; 1.
 */
public final class TopKRouter {
    private final int experts;
    private final int k;
    private final double capacityFactor;

    public TopKRouter(int experts, int k, double capacityFactor) {
        if (experts < 2 || k < 1 || k > experts) {
            throw new IllegalArgumentException("top-" + k + " routing over " + experts + " experts");
        }
        if (!(capacityFactor > 0)) {
            throw new IllegalArgumentException("capacityFactor must be > 0, got " + capacityFactor);
        }
        this.experts = experts;
        this.k = k;
        this.capacityFactor = capacityFactor;
    }

    /**
     * Routes {@code tokens} tokens from their router logits ({@code [tokens, experts]}, overwritten with the
     * probabilities), with capacity over these tokens.
     */
    public RoutePlan route(float[] logits, int tokens) {
        int[] expert = new int[tokens * k];
        float[] gates = new float[tokens * k];
        for (int t = 0; t < tokens; t++) {
            int base = t * experts;
            ScalarKernels.softmax(logits, base, experts);
            float sum = 0;
            for (int j = 0; j < k; j++) {
                int best = -1;
                for (int e = 0; e < experts; e++) {
                    if (!chosen(expert, t * k, j, e) && (best < 0 || logits[base + e] > logits[base + best])) {
                        best = e;
                    }
                }
                expert[t * k + j] = best;
                gates[t * k + j] = logits[base + best];
                sum += logits[base + best];
            }
            if (k > 1) {
                for (int j = 0; j < k; j++) {
                    gates[t * k + j] /= sum;
                }
            }
        }
        return RoutePlan.plan(tokens, k, experts, expert, gates, RoutePlan.capacity(tokens, k, experts, capacityFactor));
    }

    private static boolean chosen(int[] expert, int from, int count, int e) {
        for (int i = 0; i < count; i++) {
            if (expert[from + i] == e) {
                return true;
            }
        }
        return false;
    }

    public int experts() {
        return experts;
    }

    public int k() {
        return k;
    }
}
