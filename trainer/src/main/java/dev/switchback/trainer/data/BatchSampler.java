package dev.switchback.trainer.data;

import java.util.SplittableRandom;

/**
 * Draws training batches: B windows of S+1 tokens at random offsets of the training stream. The batch of step
 * n depends only on (seed, n), so the data position of a resumed run is just its step.
 */
public final class BatchSampler {
    private final int[] tokens;
    private final int batchSize;
    private final int seqLen;
    private final long seed;

    /** Inputs and next-token targets, each [B][S]. */
    public record Batch(int[][] inputs, int[][] targets) {}

    public BatchSampler(int[] tokens, int batchSize, int seqLen, long seed) {
        if (tokens.length < seqLen + 1) {
            throw new IllegalArgumentException("training split has " + tokens.length + " tokens, fewer than seqLen+1=" + (seqLen + 1));
        }
        this.tokens = tokens;
        this.batchSize = batchSize;
        this.seqLen = seqLen;
        this.seed = seed;
    }

    /** The batch of (1-based) step {@code step}. */
    public Batch batch(int step) {
        SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + step);
        int[][] in = new int[batchSize][seqLen];
        int[][] out = new int[batchSize][seqLen];
        for (int b = 0; b < batchSize; b++) {
            int offset = rng.nextInt(tokens.length - seqLen);
            System.arraycopy(tokens, offset, in[b], 0, seqLen);
            System.arraycopy(tokens, offset + 1, out[b], 0, seqLen);
        }
        return new Batch(in, out);
    }

    /**
     * The fixed evaluation windows of a token stream: consecutive, non-overlapping windows of S+1 tokens (the
     * last token of one window is the first of the next), at most {@code maxTokens} targets (0: all).
     */
    public static java.util.List<Batch> evaluationBatches(int[] tokens, int batchSize, int seqLen, int maxTokens) {
        int windows = (tokens.length - 1) / seqLen;
        if (maxTokens > 0) {
            windows = Math.min(windows, Math.max(1, maxTokens / seqLen));
        }
        java.util.List<Batch> batches = new java.util.ArrayList<>();
        for (int w = 0; w < windows; w += batchSize) {
            int n = Math.min(batchSize, windows - w);
            int[][] in = new int[n][seqLen];
            int[][] out = new int[n][seqLen];
            for (int b = 0; b < n; b++) {
                int offset = (w + b) * seqLen;
                System.arraycopy(tokens, offset, in[b], 0, seqLen);
                System.arraycopy(tokens, offset + 1, out[b], 0, seqLen);
            }
            batches.add(new Batch(in, out));
        }
        return batches;
    }
}
