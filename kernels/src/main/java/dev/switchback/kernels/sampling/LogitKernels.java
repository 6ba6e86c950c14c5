package dev.switchback.kernels.sampling;

/**
 * The passes over the whole vocabulary that sampling costs: the largest logit; sums of
 * {@code exp((x[i] - max) * scale)} in blocks of {@link #BLOCK} tokens (the softmax normaliser, and an index that
 * lets a draw go straight to its block instead of scanning every token); and the tokens above a cutoff.
 *
 * <p>The Vector API versions run when the {@code jdk.incubator.vector} module is present; its exp is several
 * times faster than {@link Math#exp}. The scalar versions are their reference and the fallback. Both work in
 * double and differ only in the last bits of a sum.
 */
final class LogitKernels {
    static final int BLOCK = 2048;
    static final boolean VECTOR = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();

    private LogitKernels() {}

    static int blocks(int n) {
        return (n + BLOCK - 1) / BLOCK;
    }

    /** The unnormalised probability of a token with logit {@code x}. */
    static double weight(float x, double max, double scale) {
        return Math.exp((x - max) * scale);
    }

    /** The largest of {@code x[0..n)}; NaN if any is NaN. */
    static float max(float[] x, int n) {
        return VECTOR ? VectorLogitKernels.max(x, n) : maxScalar(x, n);
    }

    /**
     * Fills {@code sums[0..blocks(n))} and returns their total, added in block order. When {@code weights} is
     * not null, also stores each token's weight there.
     */
    static double expSums(float[] x, int n, double max, double scale, double[] sums, double[] weights) {
        return VECTOR
                ? VectorLogitKernels.expSums(x, n, max, scale, sums, weights)
                : expSumsScalar(x, n, max, scale, sums, weights);
    }

    /** Writes, in order, the tokens whose {@code (x[i] - max) * scale >= cutoff} into {@code out}; returns how many. */
    static int atLeast(float[] x, int n, double max, double scale, double cutoff, int[] out) {
        return VECTOR ? VectorLogitKernels.atLeast(x, n, max, scale, cutoff, out) : atLeastScalar(x, n, max, scale, cutoff, out);
    }

    static float maxScalar(float[] x, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, x[i]);
        }
        return max;
    }

    static int atLeastScalar(float[] x, int n, double max, double scale, double cutoff, int[] out) {
        int m = 0;
        for (int i = 0; i < n; i++) {
            if ((x[i] - max) * scale >= cutoff) {
                out[m++] = i;
            }
        }
        return m;
    }

    static double expSumsScalar(float[] x, int n, double max, double scale, double[] sums, double[] weights) {
        double total = 0;
        for (int b = 0, start = 0; start < n; b++, start += BLOCK) {
            int end = Math.min(n, start + BLOCK);
            double s = 0;
            for (int i = start; i < end; i++) {
                double w = weight(x[i], max, scale);
                if (weights != null) {
                    weights[i] = w;
                }
                s += w;
            }
            sums[b] = s;
            total += s;
        }
        return total;
    }
}
