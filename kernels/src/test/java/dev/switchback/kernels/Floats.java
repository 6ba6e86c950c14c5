package dev.switchback.kernels;

import java.util.Random;

/**
 * Random inputs and float error bounds shared by the kernel tests. Bounds are the classical ones for IEEE
 * single precision (Higham, "Accuracy and Stability of Numerical Algorithms"): they hold for any summation
 * order, so they accept the vector kernels' reordering while still failing on any indexing mistake.
 */
public final class Floats {
    /** Unit roundoff of float32, 2⁻²⁴. */
    public static final double U = 0x1p-24;

    private Floats() {}

    /** γₙ = n·u / (1 − n·u): relative bound of a float sum or dot product of n terms, in any order. */
    public static double gamma(int n) {
        return n * U / (1 - n * U);
    }

    /** n values uniform in [lo, hi). */
    public static float[] uniform(Random random, int n, float lo, float hi) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = lo + (hi - lo) * random.nextFloat();
        }
        return out;
    }

    /** n values from N(0, σ²). */
    public static float[] gaussian(Random random, int n, double sigma) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) (random.nextGaussian() * sigma);
        }
        return out;
    }
}
