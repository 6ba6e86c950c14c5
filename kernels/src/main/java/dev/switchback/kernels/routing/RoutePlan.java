package dev.switchback.kernels.routing;

/**
 * One sparse layer's routing of a batch of tokens: the expert of every assignment (token t's j-th choice is
 * assignment {@code t·k + j}), its gate, whether it fit in the expert's capacity, and the kept assignments
 * grouped per expert so each expert runs once over its tokens.
 *
 * @param gates gate per assignment, or null when outputs are not gated (Hash layers)
 */
public record RoutePlan(int tokens, int k, int experts, int[] expert, float[] gates, boolean[] kept, long[] routed,
        long[] dropped, int[] groupStart, int[] grouped) {

    /**
     * Applies capacity — assignments are taken by rank first (every first choice before any second choice) and
     * then in token order, as in GShard and Switch — and groups the kept ones per expert.
     *
     * @param capacity most assignments an expert computes ({@link Integer#MAX_VALUE}: unbounded)
     */
    public static RoutePlan plan(int tokens, int k, int experts, int[] expert, float[] gates, int capacity) {
        if (expert.length != tokens * k) {
            throw new IllegalArgumentException("expected " + tokens * k + " assignments, got " + expert.length);
        }
        boolean[] kept = new boolean[expert.length];
        long[] routed = new long[experts];
        long[] dropped = new long[experts];
        for (int j = 0; j < k; j++) {
            for (int t = 0; t < tokens; t++) {
                int a = t * k + j;
                int e = expert[a];
                if (e < 0 || e >= experts) {
                    throw new IllegalArgumentException("assignment " + a + " names expert " + e + " of " + experts);
                }
                if (routed[e] < capacity) {
                    routed[e]++;
                    kept[a] = true;
                } else {
                    dropped[e]++;
                }
            }
        }
        int[] start = new int[experts + 1];
        for (int e = 0; e < experts; e++) {
            start[e + 1] = start[e] + (int) routed[e];
        }
        int[] fill = java.util.Arrays.copyOf(start, experts);
        int[] grouped = new int[start[experts]];
        for (int a = 0; a < expert.length; a++) {
            if (kept[a]) {
                grouped[fill[expert[a]]++] = a;
            }
        }
        return new RoutePlan(tokens, k, experts, expert, gates, kept, routed, dropped, start, grouped);
    }

    /** Expert capacity ⌈tokens·k / experts × capacityFactor⌉. */
    public static int capacity(int tokens, int k, int experts, double capacityFactor) {
        return (int) Math.ceil((double) tokens * k / experts * capacityFactor);
    }

    /** Assignments kept for expert {@code e}. */
    public int groupSize(int e) {
        return groupStart[e + 1] - groupStart[e];
    }

    /** The i-th kept assignment of expert {@code e}. */
    public int assignment(int e, int i) {
        return grouped[groupStart[e] + i];
    }

    /** The gate of assignment {@code a} (1 when ungated). */
    public float gate(int a) {
        return gates == null ? 1f : gates[a];
    }

    public long droppedTotal() {
        long n = 0;
        for (long d : dropped) {
            n += d;
        }
        return n;
    }
}
