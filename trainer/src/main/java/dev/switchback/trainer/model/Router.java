package dev.switchback.trainer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * A learned top-k router (Switch when k = 1): softmax over x·W_rᵀ in float32, the k most probable experts,
 * gates = their probabilities (renormalised over the k when k &gt; 1), expert capacity, the load-balancing loss
 * α·N·Σ f_i·P_i (f_i from first choices, not differentiable; P_i the mean router probability, differentiable)
 * and the z-loss mean(logsumexp²).
 */
final class Router {
    private final NDArray weight;
    private final int experts;
    private final int k;
    private final double capacityFactorTrain;
    private final double capacityFactorEval;
    private final double balanceAlpha;

    Router(NDArray weight, int experts, int k, double capacityFactorTrain, double capacityFactorEval, double balanceAlpha) {
        this.weight = weight;
        this.experts = experts;
        this.k = k;
        this.capacityFactorTrain = capacityFactorTrain;
        this.capacityFactorEval = capacityFactorEval;
        this.balanceAlpha = balanceAlpha;
    }

    /** Routes x: [T, d]. */
    Routing route(NDArray x, NDManager m, boolean training) {
        int tokens = (int) x.getShape().get(0);
        NDArray logits = Ops.linear(x, weight);
        NDArray probs = logits.softmax(-1);
        float[] p = probs.toFloatArray();
        int[] expert = topK(p, tokens);
        long[] idx = new long[expert.length];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = expert[i];
        }
        NDArray gates = probs.gather(Host.longs(m, idx, new Shape(tokens, k)), 1);
        if (k > 1) {
            gates = gates.div(gates.sum(new int[] {1}, true));
        }
        double cf = training ? capacityFactorTrain : capacityFactorEval;
        CapacityPlan plan = CapacityPlan.assign(expert, k, experts, CapacityPlan.capacity(tokens, k, experts, cf));

        float[] firstChoiceFraction = new float[experts];
        for (int t = 0; t < tokens; t++) {
            firstChoiceFraction[expert[t * k]] += 1f / tokens;
        }
        NDArray balance = Host.floats(m, firstChoiceFraction, new Shape(experts)).mul(probs.mean(new int[] {0})).sum();
        balance = balance.mul(Host.scalar(balance, balanceAlpha * experts));
        NDArray z = Ops.logSumExp(logits).square().mean();
        return new Routing(expert, k, plan, gates.reshape(tokens * (long) k), balance, z);
    }

    private int[] topK(float[] p, int tokens) {
        int[] out = new int[tokens * k];
        for (int t = 0; t < tokens; t++) {
            int base = t * experts;
            for (int j = 0; j < k; j++) {
                int best = -1;
                for (int e = 0; e < experts; e++) {
                    if (taken(out, t * k, j, e)) {
                        continue;
                    }
                    if (best < 0 || p[base + e] > p[base + best]) {
                        best = e;
                    }
                }
                out[t * k + j] = best;
            }
        }
        return out;
    }

    private static boolean taken(int[] out, int from, int count, int e) {
        for (int i = 0; i < count; i++) {
            if (out[from + i] == e) {
                return true;
            }
        }
        return false;
    }
}
