package dev.switchback.trainer.model;

import ai.djl.ndarray.NDArray;

/**
 * One sparse layer's routing of a batch: the expert of every assignment, which fit in capacity, the gates that
 * scale expert outputs (null for Hash layers, whose outputs are not gated) and the router's auxiliary losses.
 *
 * @param expert expert of assignment {@code t·k + j}
 * @param k assignments per token
 * @param plan capacity outcome
 * @param gates [T·k] gate per assignment, or null
 * @param balanceLoss α·N·Σ f_i·P_i, or null
 * @param zLoss mean over tokens of logsumexp(router logits)², or null
 */
public record Routing(int[] expert, int k, CapacityPlan plan, NDArray gates, NDArray balanceLoss, NDArray zLoss) {
    /** Tokens in the batch. */
    public int tokens() {
        return expert.length / k;
    }
}
