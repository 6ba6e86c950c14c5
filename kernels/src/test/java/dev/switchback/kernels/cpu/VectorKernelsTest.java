package dev.switchback.kernels.cpu;

import static dev.switchback.kernels.Floats.U;
import static dev.switchback.kernels.Floats.gamma;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.kernels.Floats;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every element-wise and reduction kernel of {@link VectorKernels} against its {@link ScalarKernels} reference and
 * against the same equation in double precision, over lengths around multiples of the vector width (vector body,
 * tail, both, neither) and at non-zero offsets, with the array around the range checked untouched.
 *
 * <p>Tolerances: dot products and sums of n terms are held to γₙ·Σ|terms| (the worst case of float summation in
 * any order); transcendental kernels to a few ulps of their inputs' scale, since the Vector API's EXP and TANH
 * are within a few ulps of exact but not equal to {@link Math#exp}; rotary, which only multiplies and subtracts
 * lane by lane, must equal the reference bit for bit.
 */
class VectorKernelsTest {
    /** Offsets, spare space and lengths that are and are not multiples of any vector width. */
    static IntStream lengths() {
        return IntStream.of(1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 257, 1000, 1031);
    }

    private static final int PAD = 5;

    private static Random random(int n, int salt) {
        return new Random(1_000_003L * n + salt);
    }

    /** A random array with the n values at a random offset in [0, 3] and PAD spare values after them. */
    private static float[] padded(Random r, int off, float[] values) {
        float[] out = Floats.uniform(r, off + values.length + PAD, -9, 9);
        System.arraycopy(values, 0, out, off, values.length);
        return out;
    }

    private static void assertOutsideUntouched(float[] before, float[] after, int off, int n) {
        for (int i = 0; i < before.length; i++) {
            if (i < off || i >= off + n) {
                assertEquals(Float.floatToRawIntBits(before[i]), Float.floatToRawIntBits(after[i]),
                        "element " + i + " outside [" + off + ", " + (off + n) + ") changed");
            }
        }
    }

    @ParameterizedTest
    @MethodSource("lengths")
    void dotMatchesScalarAndDouble(int n) {
        Random r = random(n, 1);
        int aOff = r.nextInt(4);
        int bOff = r.nextInt(4);
        float[] a = padded(r, aOff, Floats.uniform(r, n, -1, 1));
        float[] b = padded(r, bOff, Floats.uniform(r, n, -1, 1));
        double exact = 0;
        double magnitude = 0;
        for (int i = 0; i < n; i++) {
            exact += (double) a[aOff + i] * b[bOff + i];
            magnitude += Math.abs((double) a[aOff + i] * b[bOff + i]);
        }
        float vector = VectorKernels.dot(a, aOff, b, bOff, n);
        float scalar = ScalarKernels.dot(a, aOff, b, bOff, n);
        assertEquals(exact, vector, gamma(n) * magnitude, "vector vs double, n=" + n);
        assertEquals(exact, scalar, gamma(n) * magnitude, "scalar vs double, n=" + n);
        assertEquals(scalar, vector, 2 * gamma(n) * magnitude, "vector vs scalar, n=" + n);
    }

    @Test
    void dotOfNothingIsZero() {
        assertEquals(0f, VectorKernels.dot(new float[4], 2, new float[4], 1, 0));
    }

    @Test
    void dotOfAlignedOnesCountsExactly() {
        for (int n : lengths().toArray()) {
            float[] ones = new float[n];
            Arrays.fill(ones, 1f);
            assertEquals(n, VectorKernels.dot(ones, 0, ones, 0, n), "Σ1 over " + n + " terms is exact in float");
        }
    }

    @ParameterizedTest
    @MethodSource("lengths")
    void rmsNormMatchesScalarAndDouble(int d) {
        Random r = random(d, 2);
        int xOff = r.nextInt(4);
        int outOff = r.nextInt(4);
        float eps = 1e-5f;
        float[] x = padded(r, xOff, Floats.gaussian(r, d, 2));
        float[] gain = Floats.uniform(r, d, 0.5f, 1.5f);
        float[] vector = Floats.uniform(r, outOff + d + PAD, -1, 1);
        float[] scalar = vector.clone();
        float[] before = vector.clone();
        VectorKernels.rmsNorm(x, xOff, gain, eps, vector, outOff, d);
        ScalarKernels.rmsNorm(x, xOff, gain, eps, scalar, outOff, d);
        double ss = 0;
        for (int i = 0; i < d; i++) {
            ss += (double) x[xOff + i] * x[xOff + i];
        }
        double inv = 1 / Math.sqrt(ss / d + eps);
        // Σx² carries γ_d, its inverse square root half of it; division, ε, sqrt and two products a few u more.
        double rel = gamma(d) / 2 + 6 * U;
        for (int i = 0; i < d; i++) {
            double exact = x[xOff + i] * inv * gain[i];
            double tol = rel * Math.abs(exact) + Float.MIN_NORMAL;
            assertEquals(exact, vector[outOff + i], tol, "vector vs double at " + i + ", d=" + d);
            assertEquals(exact, scalar[outOff + i], tol, "scalar vs double at " + i + ", d=" + d);
            assertEquals(scalar[outOff + i], vector[outOff + i], 2 * tol, "vector vs scalar at " + i + ", d=" + d);
        }
        assertOutsideUntouched(before, vector, outOff, d);
    }

    @ParameterizedTest
    @MethodSource("lengths")
    void layerNormMatchesScalarAndDouble(int d) {
        Random r = random(d, 12);
        int xOff = r.nextInt(4);
        int outOff = r.nextInt(4);
        float eps = 1e-5f;
        // A shifted row: the mean must be removed before the variance is taken.
        float[] x = padded(r, xOff, Floats.uniform(r, d, 2f, 6f));
        float[] gain = Floats.uniform(r, d, 0.5f, 1.5f);
        float[] bias = Floats.uniform(r, d, -0.5f, 0.5f);
        float[] vector = Floats.uniform(r, outOff + d + PAD, -1, 1);
        float[] scalar = vector.clone();
        float[] before = vector.clone();
        VectorKernels.layerNorm(x, xOff, gain, bias, eps, vector, outOff, d);
        ScalarKernels.layerNorm(x, xOff, gain, bias, eps, scalar, outOff, d);
        double mean = 0;
        for (int i = 0; i < d; i++) {
            mean += x[xOff + i];
        }
        mean /= d;
        double var = 0;
        for (int i = 0; i < d; i++) {
            var += (x[xOff + i] - mean) * (x[xOff + i] - mean);
        }
        double inv = 1 / Math.sqrt(var / d + eps);
        for (int i = 0; i < d; i++) {
            double exact = (x[xOff + i] - mean) * inv * gain[i] + bias[i];
            // The float mean carries γ_d·max|x|, which the centred value and the variance inherit.
            double tol = (gamma(d) * 6 * inv + 8 * U) * (Math.abs(exact) + 6 * inv * gain[i]) + 1e-6;
            assertEquals(exact, vector[outOff + i], tol, "vector vs double at " + i + ", d=" + d);
            assertEquals(exact, scalar[outOff + i], tol, "scalar vs double at " + i + ", d=" + d);
        }
        assertOutsideUntouched(before, vector, outOff, d);
    }

    @Test
    void rmsNormOfAConstantRowIsTheGain() {
        float[] x = new float[37];
        Arrays.fill(x, -3f);
        float[] gain = Floats.uniform(new Random(5), 37, 0.5f, 1.5f);
        float[] out = new float[37];
        VectorKernels.rmsNorm(x, 0, gain, 0f, out, 0, 37);
        for (int i = 0; i < 37; i++) {
            assertEquals(-gain[i], out[i], 4 * U * gain[i], "x / rms(x) = ±1 for a constant row");
        }
    }

    /** Softmax of float inputs in double, the exponent differences taken exactly. */
    private static double[] softmaxDouble(float[] x, int off, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, x[off + i]);
        }
        double[] e = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            e[i] = Math.exp(x[off + i] - max);
            sum += e[i];
        }
        for (int i = 0; i < n; i++) {
            e[i] /= sum;
        }
        return e;
    }

    private static void checkSoftmax(float[] input, String what) {
        int n = input.length;
        Random r = random(n, 3);
        int off = r.nextInt(4);
        float[] vector = padded(r, off, input);
        float[] scalar = vector.clone();
        float[] before = vector.clone();
        double[] exact = softmaxDouble(vector, off, n);
        float max = Float.NEGATIVE_INFINITY;
        for (float v : input) {
            max = Math.max(max, v);
        }
        VectorKernels.softmax(vector, off, n);
        ScalarKernels.softmax(scalar, off, n);
        double sum = 0;
        double sumTol = 0;
        for (int i = 0; i < n; i++) {
            float v = vector[off + i];
            assertTrue(Float.isFinite(v) && v >= 0 && v <= 1, what + ": p[" + i + "] = " + v);
            // exp within a few ulps of its float argument; the argument x − max within u·|x − max| (exact when
            // x and max are within a factor of 2); the normalising sum of n positive terms within γₙ.
            double tol = (gamma(n) + 8 * U + U * Math.abs((double) input[i] - max)) * exact[i] + Float.MIN_NORMAL;
            assertEquals(exact[i], v, tol, what + ": vector vs double at " + i + ", n=" + n);
            assertEquals(exact[i], scalar[off + i], tol, what + ": scalar vs double at " + i + ", n=" + n);
            assertEquals(scalar[off + i], v, 2 * tol, what + ": vector vs scalar at " + i + ", n=" + n);
            sum += v;
            sumTol += tol;
        }
        assertEquals(1.0, sum, sumTol, what + ": probabilities sum to 1, n=" + n);
        assertOutsideUntouched(before, vector, off, n);
    }

    @ParameterizedTest
    @MethodSource("lengths")
    void softmaxMatchesScalarAndDouble(int n) {
        checkSoftmax(Floats.gaussian(random(n, 4), n, 3), "N(0, 9) logits");
    }

    @ParameterizedTest
    @MethodSource("lengths")
    void softmaxIsStableForLargeMagnitudes(int n) {
        Random r = random(n, 5);
        float[] offsetUp = new float[n];
        float[] offsetDown = new float[n];
        float[] wide = Floats.uniform(r, n, -1e4f, 1e4f);
        float[] extreme = new float[n];
        for (int i = 0; i < n; i++) {
            offsetUp[i] = 5000f + (float) r.nextGaussian() * 3;
            offsetDown[i] = -5000f + (float) r.nextGaussian() * 3;
            extreme[i] = r.nextBoolean() ? Float.MAX_VALUE * r.nextFloat() : -Float.MAX_VALUE * r.nextFloat();
        }
        checkSoftmax(offsetUp, "5000 + N(0, 9), exp would overflow without the max");
        checkSoftmax(offsetDown, "-5000 + N(0, 9), exp would underflow without the max");
        checkSoftmax(wide, "U(-1e4, 1e4)");
        checkSoftmax(extreme, "±Float.MAX_VALUE, x − max overflows to −∞");
        float[] flat = new float[n];
        Arrays.fill(flat, 3e38f);
        checkSoftmax(flat, "all 3e38");
        VectorKernels.softmax(flat, 0, n);
        for (float p : flat) {
            assertEquals(1.0 / n, p, (gamma(n) + 4 * U) / n, "equal logits give a uniform distribution");
        }
    }

    private static double geluDouble(double v) {
        return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
    }

    @ParameterizedTest
    @MethodSource("lengths")
    void geluMatchesScalarAndDouble(int n) {
        Random r = random(n, 6);
        int off = r.nextInt(4);
        float[] input = Floats.gaussian(r, n, 3);
        input[0] = n % 2 == 0 ? 30f : -30f;
        float[] vector = padded(r, off, input);
        float[] scalar = vector.clone();
        float[] before = vector.clone();
        VectorKernels.gelu(vector, off, n);
        ScalarKernels.gelu(scalar, off, n);
        for (int i = 0; i < n; i++) {
            double v = input[i];
            double exact = geluDouble(v);
            // 1 + tanh(z) is off by a few u absolutely (tanh within ~2 ulps, z within ~5u relative and
            // |z|·sech²(z) < 1/2), then scaled by v/2: a few u of |v|, plus the final products' rounding.
            double tol = 8 * U * Math.abs(v) + 4 * U * Math.abs(exact) + Float.MIN_NORMAL;
            assertEquals(exact, vector[off + i], tol, "vector vs double at x=" + v);
            assertEquals(exact, scalar[off + i], tol, "scalar vs double at x=" + v);
            assertEquals(scalar[off + i], vector[off + i], 2 * tol, "vector vs scalar at x=" + v);
        }
        assertOutsideUntouched(before, vector, off, n);
    }

    @ParameterizedTest
    @MethodSource("lengths")
    void siluMatchesScalarAndDouble(int n) {
        Random r = random(n, 7);
        int off = r.nextInt(4);
        float[] input = Floats.gaussian(r, n, 4);
        input[0] = n % 2 == 0 ? 100f : -100f;
        float[] vector = padded(r, off, input);
        float[] scalar = vector.clone();
        float[] before = vector.clone();
        VectorKernels.silu(vector, off, n);
        ScalarKernels.silu(scalar, off, n);
        for (int i = 0; i < n; i++) {
            double v = input[i];
            double exact = v / (1 + Math.exp(-v));
            // exp within a few ulps, then one add and one divide: relative; below the normal range absolute.
            double tol = 8 * U * Math.abs(exact) + Float.MIN_NORMAL;
            assertEquals(exact, vector[off + i], tol, "vector vs double at x=" + v);
            assertEquals(exact, scalar[off + i], tol, "scalar vs double at x=" + v);
            assertEquals(scalar[off + i], vector[off + i], 2 * tol, "vector vs scalar at x=" + v);
        }
        assertOutsideUntouched(before, vector, off, n);
    }

    /** Lengths are half the head size: the kernel's loops run over one half. */
    @ParameterizedTest
    @MethodSource("lengths")
    void rotaryEqualsScalarExactlyAndDoubleClosely(int half) {
        int headSize = 2 * half;
        Random r = random(half, 8);
        int off = r.nextInt(4);
        int position = r.nextInt(5);
        float[] cos = new float[6 * half];
        float[] sin = new float[6 * half];
        for (int i = 0; i < cos.length; i++) {
            double angle = r.nextDouble() * 2 * Math.PI;
            cos[i] = (float) Math.cos(angle);
            sin[i] = (float) Math.sin(angle);
        }
        float[] input = Floats.uniform(r, headSize, -2, 2);
        float[] vector = padded(r, off, input);
        float[] scalar = vector.clone();
        float[] before = vector.clone();
        VectorKernels.rotary(vector, off, headSize, cos, sin, position * half);
        ScalarKernels.rotary(scalar, off, headSize, cos, sin, position * half);
        // Products and differences lane by lane, no FMA contraction in Java: the same float operations.
        assertArrayEquals(scalar, vector, "rotary must equal the scalar reference bit for bit, half=" + half);
        for (int i = 0; i < half; i++) {
            double x1 = input[i];
            double x2 = input[half + i];
            double c = cos[position * half + i];
            double s = sin[position * half + i];
            double tol1 = 3 * U * (Math.abs(x1 * c) + Math.abs(x2 * s));
            double tol2 = 3 * U * (Math.abs(x1 * s) + Math.abs(x2 * c));
            assertEquals(x1 * c - x2 * s, vector[off + i], tol1, "first half at " + i);
            assertEquals(x1 * s + x2 * c, vector[off + half + i], tol2, "second half at " + i);
        }
        assertOutsideUntouched(before, vector, off, headSize);
    }

    @Test
    void rotaryAtAngleZeroIsIdentityAndQuarterTurnSwapsHalves() {
        int half = 19;
        float[] cos = new float[2 * half];
        float[] sin = new float[2 * half];
        Arrays.fill(cos, 0, half, 1f);
        Arrays.fill(sin, half, 2 * half, 1f);
        float[] x = Floats.uniform(new Random(9), 2 * half, -1, 1);
        float[] same = x.clone();
        VectorKernels.rotary(same, 0, 2 * half, cos, sin, 0);
        assertArrayEquals(x, same, "position 0: cos 1, sin 0");
        float[] turned = x.clone();
        VectorKernels.rotary(turned, 0, 2 * half, cos, sin, half);
        for (int i = 0; i < half; i++) {
            assertEquals(-x[half + i], turned[i], "[x1, x2] → [−x2, x1] at a quarter turn");
            assertEquals(x[i], turned[half + i]);
        }
    }

    @ParameterizedTest
    @MethodSource("lengths")
    void axpyMatchesScalarAndDouble(int n) {
        Random r = random(n, 10);
        int xOff = r.nextInt(4);
        int yOff = r.nextInt(4);
        float a = (float) r.nextGaussian();
        float[] x = padded(r, xOff, Floats.uniform(r, n, -3, 3));
        float[] y0 = Floats.uniform(r, n, -3, 3);
        float[] vector = padded(r, yOff, y0);
        float[] scalar = vector.clone();
        float[] before = vector.clone();
        VectorKernels.axpy(a, x, xOff, vector, yOff, n);
        ScalarKernels.axpy(a, x, xOff, scalar, yOff, n);
        for (int i = 0; i < n; i++) {
            double ax = (double) a * x[xOff + i];
            double exact = y0[i] + ax;
            // FMA rounds once, the reference twice: both within 2u of |a·x| + |y|.
            double tol = 2 * U * (Math.abs(ax) + Math.abs(y0[i]));
            assertEquals(exact, vector[yOff + i], tol, "vector vs double at " + i);
            assertEquals(exact, scalar[yOff + i], tol, "scalar vs double at " + i);
            assertEquals(scalar[yOff + i], vector[yOff + i], 2 * tol, "vector vs scalar at " + i);
        }
        assertOutsideUntouched(before, vector, yOff, n);
    }

    @Test
    void lanesIsAPowerOfTwo() {
        int lanes = VectorKernels.lanes();
        assertTrue(lanes >= 1 && Integer.bitCount(lanes) == 1, "lanes " + lanes);
    }
}
