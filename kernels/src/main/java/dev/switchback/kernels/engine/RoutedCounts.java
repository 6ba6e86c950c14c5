package dev.switchback.kernels.engine;

import dev.switchback.kernels.routing.ExpertStats;
import java.util.Arrays;

/** Per-expert token counts an engine routes while it reads a text: what the {@code load} placement is planned from. */
public final class RoutedCounts {
    private RoutedCounts() {}

    /**
     * Tokens each expert of each block computed (dropped ones not counted) while {@code engine} read {@code ids} in
     * windows of its context length, each a fresh sequence, fed in calls of at most {@code callTokens} tokens; the
     * engine's own counters move by as much. Dense blocks get empty rows.
     */
    public static long[][] measure(StepEngine engine, int[] ids, int callTokens) {
        if (callTokens < 1) {
            throw new IllegalArgumentException("callTokens must be >= 1, got " + callTokens);
        }
        long[][] before = snapshot(engine.expertStats());
        int window = engine.config().contextLength();
        for (int from = 0; from < ids.length; from += window) {
            int end = Math.min(ids.length, from + window);
            try (Sequence s = engine.newSequence()) {
                for (int at = from; at < end; at += callTokens) {
                    engine.prefill(s, Arrays.copyOfRange(ids, at, Math.min(end, at + callTokens)));
                }
            }
        }
        long[][] after = snapshot(engine.expertStats());
        for (int l = 0; l < after.length; l++) {
            for (int e = 0; e < after[l].length; e++) {
                after[l][e] -= before[l][e];
            }
        }
        return after;
    }

    private static long[][] snapshot(ExpertStats stats) {
        long[][] out = new long[stats.layers()][stats.experts()];
        for (int l = 0; l < out.length; l++) {
            for (int e = 0; e < out[l].length; e++) {
                out[l][e] = stats.routed(l, e);
            }
        }
        return out;
    }
}
