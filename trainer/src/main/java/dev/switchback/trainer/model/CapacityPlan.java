package dev.switchback.trainer.model;

/**
 * Which token→expert assignments fit in the experts' capacity. Assignments are taken by rank first (every
 * token's first choice before any second choice) and then in token order, as in GShard and Switch; an
 * assignment that finds its expert full is dropped and counted, and the token skips that expert through the
 * residual.
 *
 * @param kept whether assignment {@code t·k + j} (token t's j-th choice) was computed
 * @param routed assignments computed per expert
 * @param dropped assignments dropped per expert
 */
public record CapacityPlan(boolean[] kept, long[] routed, long[] dropped) {

    /** Expert capacity ⌈tokens·k / experts × capacityFactor⌉. */
    public static int capacity(int tokens, int k, int experts, double capacityFactor) {
        return (int) Math.ceil((double) tokens * k / experts * capacityFactor);
    }

    /**
     * @param expert expert of each assignment, indexed {@code t·k + j}
     * @param capacity most assignments an expert computes ({@link Integer#MAX_VALUE}: unbounded)
     */
    public static CapacityPlan assign(int[] expert, int k, int experts, int capacity) {
        int tokens = expert.length / k;
        boolean[] kept = new boolean[expert.length];
        long[] routed = new long[experts];
        long[] dropped = new long[experts];
        for (int j = 0; j < k; j++) {
            for (int t = 0; t < tokens; t++) {
                int a = t * k + j;
                int e = expert[a];
                if (routed[e] < capacity) {
                    routed[e]++;
                    kept[a] = true;
                } else {
                    dropped[e]++;
                }
            }
        }
        return new CapacityPlan(kept, routed, dropped);
    }

    /** Assignments dropped over all experts. */
    public long droppedTotal() {
        long n = 0;
        for (long d : dropped) {
            n += d;
        }
        return n;
    }
}
