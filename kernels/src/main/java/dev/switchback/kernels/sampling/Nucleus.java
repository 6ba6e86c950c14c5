package dev.switchback.kernels.sampling;

import java.util.Arrays;

/**
 * Top-p over the whole vocabulary without sorting it. Candidate tokens are grouped into buckets by log-weight;
 * the buckets above the one where the running mass crosses p are in the nucleus whole, in any order, and only
 * the tokens of that boundary bucket are ranked, with a heap, to find the exact last token.
 */
final class Nucleus {
    private static final int BUCKETS = 1024;
    // Four interleaved histograms: consecutive tokens often land in the same bucket, and one array would chain
    // each addition to the previous one through memory.
    private static final int WAYS = 4;
    private final double[] partial = new double[WAYS * BUCKETS];
    private final double[] mass = new double[BUCKETS];
    private int[] candidates = new int[0];
    private short[] bucketOf = new short[0];
    private long[] boundary = new long[64];

    /**
     * Fills {@code out} with the smallest set of best-ranked tokens whose weight reaches {@code p} of
     * {@code total}, given each token's {@code weights[i] = exp((x[i] - max) * scale)}.
     */
    void select(float[] x, int vocab, double max, double scale, double[] weights, double total, double p,
            Support out) {
        // The nucleus's last token, and every token ranked below it, weigh no more than it does, yet together
        // they exceed (1 - p) * total; so every nucleus token weighs more than (1 - p) * total / vocab. Lighter
        // tokens are never looked at again. The factor 1/2 is room for rounding.
        double cutoff = Math.log(0.5 * (1 - p) * total / vocab);
        if (candidates.length < vocab) {
            candidates = new int[vocab];
            bucketOf = new short[vocab];
        }
        int m = LogitKernels.atLeast(x, vocab, max, scale, cutoff, candidates);
        // Maps a log-weight in [cutoff, 0] onto [0, BUCKETS): better tokens to lower buckets, ties to the same.
        double toBucket = BUCKETS / cutoff;
        Arrays.fill(partial, 0);
        for (int j = 0; j < m; j++) {
            int t = candidates[j];
            // A candidate's log-weight is in [cutoff, 0], so the product is in [0, BUCKETS] and converts exactly.
            int b = Math.min((int) ((x[t] - max) * scale * toBucket), BUCKETS - 1);
            bucketOf[j] = (short) b;
            partial[(j & (WAYS - 1)) * BUCKETS + b] += weights[t];
        }
        for (int b = 0; b < BUCKETS; b++) {
            mass[b] = partial[b] + partial[BUCKETS + b] + partial[2 * BUCKETS + b] + partial[3 * BUCKETS + b];
        }
        double bound = p * total;
        double before = 0;
        int edge = 0;
        while (edge < BUCKETS - 1 && before + mass[edge] < bound) {
            before += mass[edge++];
        }
        out.clear();
        int size = 0;
        for (int j = 0; j < m; j++) {
            int t = candidates[j];
            if (bucketOf[j] < edge) {
                out.add(t, weights[t]);
            } else if (bucketOf[j] == edge) {
                if (size == boundary.length) {
                    boundary = Arrays.copyOf(boundary, 2 * size);
                }
                boundary[size++] = Ranking.key(x[t], t);
            }
        }
        Ranking.heapifyBest(boundary, size);
        double cumulative = before;
        while (size > 0 && cumulative < bound) {
            int t = Ranking.token(Ranking.pollBest(boundary, size--));
            out.add(t, weights[t]);
            cumulative += weights[t];
        }
    }
}
