package dev.switchback.kernels.cpu;

import dev.switchback.kernels.tensor.Matrix;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The CPU kernels on the Vector API at the widest species the JVM offers; {@link ScalarKernels} holds the
 * reference for each. Matrix products read every weight row once per call however many tokens there are
 * (tokens are taken four at a time against a row), which is what makes batched decoding cheap.
 */
public final class VectorKernels {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Shorts with as many lanes as {@link #F}: one load of BF16 weights widens to one float vector. */
    static final VectorSpecies<Short> BF = VectorSpecies.of(short.class, VectorShape.forBitSize(F.length() * 16));
    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    private static final float GELU_C = (float) Math.sqrt(2 / Math.PI);

    private VectorKernels() {}

    /** Lanes per float vector (16 with AVX-512). */
    public static int lanes() {
        return F.length();
    }

    /** Σ a[i]·b[i]. */
    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        int bound = F.loopBound(n);
        int step = F.length();
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        int i = 0;
        for (; i + step < bound; i += 2 * step) {
            acc0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc0);
            acc1 = FloatVector.fromArray(F, a, aOff + i + step).fma(FloatVector.fromArray(F, b, bOff + i + step), acc1);
        }
        for (; i < bound; i += step) {
            acc0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc0);
        }
        float s = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s += a[aOff + i] * b[bOff + i];
        }
        return s;
    }

    /** y[t, r] = Σ_c x[t, c]·W[r, c] for {@code n} rows of x, split over rows of W. */
    public static void matmul(float[] x, int n, Matrix w, float[] y, Parallel parallel) {
        long work = (long) n * w.cols();
        switch (w) {
            case Matrix.F32 f -> parallel.forRange(w.rows(), work, (from, to) -> f32Rows(x, n, f, y, from, to));
            case Matrix.Bf16 b -> parallel.forRange(w.rows(), work, (from, to) -> bf16Rows(x, n, b, y, from, to));
        }
    }

    private static void f32Rows(float[] x, int n, Matrix.F32 m, float[] y, int from, int to) {
        float[] w = m.data();
        int cols = m.cols();
        int rows = m.rows();
        int bound = F.loopBound(cols);
        for (int r = from; r < to; r++) {
            int wo = r * cols;
            int t = 0;
            for (; t + 4 <= n; t += 4) {
                int x0 = t * cols;
                int x1 = x0 + cols;
                int x2 = x1 + cols;
                int x3 = x2 + cols;
                FloatVector a0 = FloatVector.zero(F);
                FloatVector a1 = FloatVector.zero(F);
                FloatVector a2 = FloatVector.zero(F);
                FloatVector a3 = FloatVector.zero(F);
                int c = 0;
                for (; c < bound; c += F.length()) {
                    FloatVector wv = FloatVector.fromArray(F, w, wo + c);
                    a0 = FloatVector.fromArray(F, x, x0 + c).fma(wv, a0);
                    a1 = FloatVector.fromArray(F, x, x1 + c).fma(wv, a1);
                    a2 = FloatVector.fromArray(F, x, x2 + c).fma(wv, a2);
                    a3 = FloatVector.fromArray(F, x, x3 + c).fma(wv, a3);
                }
                float s0 = a0.reduceLanes(VectorOperators.ADD);
                float s1 = a1.reduceLanes(VectorOperators.ADD);
                float s2 = a2.reduceLanes(VectorOperators.ADD);
                float s3 = a3.reduceLanes(VectorOperators.ADD);
                for (; c < cols; c++) {
                    float wc = w[wo + c];
                    s0 += x[x0 + c] * wc;
                    s1 += x[x1 + c] * wc;
                    s2 += x[x2 + c] * wc;
                    s3 += x[x3 + c] * wc;
                }
                y[t * rows + r] = s0;
                y[(t + 1) * rows + r] = s1;
                y[(t + 2) * rows + r] = s2;
                y[(t + 3) * rows + r] = s3;
            }
            if (t + 2 <= n) {
                // A pair shares each weight load too: experts often get one to three tokens of a decode batch.
                int x0 = t * cols;
                int x1 = x0 + cols;
                FloatVector a0 = FloatVector.zero(F);
                FloatVector a1 = FloatVector.zero(F);
                int c = 0;
                for (; c < bound; c += F.length()) {
                    FloatVector wv = FloatVector.fromArray(F, w, wo + c);
                    a0 = FloatVector.fromArray(F, x, x0 + c).fma(wv, a0);
                    a1 = FloatVector.fromArray(F, x, x1 + c).fma(wv, a1);
                }
                float s0 = a0.reduceLanes(VectorOperators.ADD);
                float s1 = a1.reduceLanes(VectorOperators.ADD);
                for (; c < cols; c++) {
                    s0 += x[x0 + c] * w[wo + c];
                    s1 += x[x1 + c] * w[wo + c];
                }
                y[t * rows + r] = s0;
                y[(t + 1) * rows + r] = s1;
                t += 2;
            }
            for (; t < n; t++) {
                y[t * rows + r] = dot(x, t * cols, w, wo, cols);
            }
        }
    }

    private static void bf16Rows(float[] x, int n, Matrix.Bf16 m, float[] y, int from, int to) {
        short[] w = m.data();
        int cols = m.cols();
        int rows = m.rows();
        int bound = F.loopBound(cols);
        for (int r = from; r < to; r++) {
            int wo = r * cols;
            int t = 0;
            for (; t + 4 <= n; t += 4) {
                int x0 = t * cols;
                int x1 = x0 + cols;
                int x2 = x1 + cols;
                int x3 = x2 + cols;
                FloatVector a0 = FloatVector.zero(F);
                FloatVector a1 = FloatVector.zero(F);
                FloatVector a2 = FloatVector.zero(F);
                FloatVector a3 = FloatVector.zero(F);
                int c = 0;
                for (; c < bound; c += F.length()) {
                    FloatVector wv = widen(w, wo + c);
                    a0 = FloatVector.fromArray(F, x, x0 + c).fma(wv, a0);
                    a1 = FloatVector.fromArray(F, x, x1 + c).fma(wv, a1);
                    a2 = FloatVector.fromArray(F, x, x2 + c).fma(wv, a2);
                    a3 = FloatVector.fromArray(F, x, x3 + c).fma(wv, a3);
                }
                float s0 = a0.reduceLanes(VectorOperators.ADD);
                float s1 = a1.reduceLanes(VectorOperators.ADD);
                float s2 = a2.reduceLanes(VectorOperators.ADD);
                float s3 = a3.reduceLanes(VectorOperators.ADD);
                for (; c < cols; c++) {
                    float wc = Matrix.Bf16.widen(w[wo + c]);
                    s0 += x[x0 + c] * wc;
                    s1 += x[x1 + c] * wc;
                    s2 += x[x2 + c] * wc;
                    s3 += x[x3 + c] * wc;
                }
                y[t * rows + r] = s0;
                y[(t + 1) * rows + r] = s1;
                y[(t + 2) * rows + r] = s2;
                y[(t + 3) * rows + r] = s3;
            }
            if (t + 2 <= n) {
                int x0 = t * cols;
                int x1 = x0 + cols;
                FloatVector a0 = FloatVector.zero(F);
                FloatVector a1 = FloatVector.zero(F);
                int c = 0;
                for (; c < bound; c += F.length()) {
                    FloatVector wv = widen(w, wo + c);
                    a0 = FloatVector.fromArray(F, x, x0 + c).fma(wv, a0);
                    a1 = FloatVector.fromArray(F, x, x1 + c).fma(wv, a1);
                }
                float s0 = a0.reduceLanes(VectorOperators.ADD);
                float s1 = a1.reduceLanes(VectorOperators.ADD);
                for (; c < cols; c++) {
                    float wc = Matrix.Bf16.widen(w[wo + c]);
                    s0 += x[x0 + c] * wc;
                    s1 += x[x1 + c] * wc;
                }
                y[t * rows + r] = s0;
                y[(t + 1) * rows + r] = s1;
                t += 2;
            }
            for (; t < n; t++) {
                y[t * rows + r] = dotBf16(x, t * cols, w, wo, cols);
            }
        }
    }

    /** Σ x[i]·widen(w[i]) for BF16 weights. */
    static float dotBf16(float[] x, int xOff, short[] w, int wOff, int n) {
        int bound = F.loopBound(n);
        int step = F.length();
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        int i = 0;
        for (; i + step < bound; i += 2 * step) {
            acc0 = FloatVector.fromArray(F, x, xOff + i).fma(widen(w, wOff + i), acc0);
            acc1 = FloatVector.fromArray(F, x, xOff + i + step).fma(widen(w, wOff + i + step), acc1);
        }
        for (; i < bound; i += step) {
            acc0 = FloatVector.fromArray(F, x, xOff + i).fma(widen(w, wOff + i), acc0);
        }
        float s = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s += x[xOff + i] * Matrix.Bf16.widen(w[wOff + i]);
        }
        return s;
    }

    /** BF16 → F32 for one vector's worth of lanes: sign-extend to int, shift into the high half. */
    private static FloatVector widen(short[] w, int off) {
        IntVector wide = (IntVector) ShortVector.fromArray(BF, w, off).convertShape(VectorOperators.S2I, I, 0);
        return wide.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /** out = x / √(mean(x²) + ε) · gain over one row of {@code d} values. */
    public static void rmsNorm(float[] x, int xOff, float[] gain, float eps, float[] out, int outOff, int d) {
        float ss = dot(x, xOff, x, xOff, d);
        float inv = (float) (1 / Math.sqrt(ss / d + eps));
        int bound = F.loopBound(d);
        int i = 0;
        for (; i < bound; i += F.length()) {
            FloatVector.fromArray(F, x, xOff + i).mul(inv).mul(FloatVector.fromArray(F, gain, i)).intoArray(out, outOff + i);
        }
        for (; i < d; i++) {
            out[outOff + i] = x[xOff + i] * inv * gain[i];
        }
    }

    /** out = (x − mean) / √(var + ε) · gain + bias over one row of {@code d} values (bias may be null). */
    public static void layerNorm(float[] x, int xOff, float[] gain, float[] bias, float eps, float[] out, int outOff, int d) {
        int bound = F.loopBound(d);
        FloatVector vsum = FloatVector.zero(F);
        int i = 0;
        for (; i < bound; i += F.length()) {
            vsum = vsum.add(FloatVector.fromArray(F, x, xOff + i));
        }
        float sum = vsum.reduceLanes(VectorOperators.ADD);
        for (; i < d; i++) {
            sum += x[xOff + i];
        }
        float mean = sum / d;
        FloatVector vmean = FloatVector.broadcast(F, mean);
        FloatVector vvar = FloatVector.zero(F);
        for (i = 0; i < bound; i += F.length()) {
            FloatVector c = FloatVector.fromArray(F, x, xOff + i).sub(vmean);
            vvar = c.fma(c, vvar);
        }
        float var = vvar.reduceLanes(VectorOperators.ADD);
        for (; i < d; i++) {
            float c = x[xOff + i] - mean;
            var += c * c;
        }
        float inv = (float) (1 / Math.sqrt(var / d + eps));
        for (i = 0; i < bound; i += F.length()) {
            FloatVector y = FloatVector.fromArray(F, x, xOff + i).sub(vmean).mul(inv).mul(FloatVector.fromArray(F, gain, i));
            if (bias != null) {
                y = y.add(FloatVector.fromArray(F, bias, i));
            }
            y.intoArray(out, outOff + i);
        }
        for (; i < d; i++) {
            out[outOff + i] = (x[xOff + i] - mean) * inv * gain[i] + (bias == null ? 0 : bias[i]);
        }
    }

    /** In-place softmax of {@code n} values. */
    public static void softmax(float[] x, int off, int n) {
        int bound = F.loopBound(n);
        int i = 0;
        FloatVector vmax = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        for (; i < bound; i += F.length()) {
            vmax = vmax.max(FloatVector.fromArray(F, x, off + i));
        }
        float max = vmax.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            max = Math.max(max, x[off + i]);
        }
        FloatVector vsum = FloatVector.zero(F);
        for (i = 0; i < bound; i += F.length()) {
            FloatVector e = FloatVector.fromArray(F, x, off + i).sub(max).lanewise(VectorOperators.EXP);
            e.intoArray(x, off + i);
            vsum = vsum.add(e);
        }
        float sum = vsum.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            x[off + i] = (float) Math.exp(x[off + i] - max);
            sum += x[off + i];
        }
        float inv = 1 / sum;
        for (i = 0; i < bound; i += F.length()) {
            FloatVector.fromArray(F, x, off + i).mul(inv).intoArray(x, off + i);
        }
        for (; i < n; i++) {
            x[off + i] *= inv;
        }
    }

    /** In-place GELU, tanh approximation. */
    public static void gelu(float[] x, int off, int n) {
        int bound = F.loopBound(n);
        int i = 0;
        for (; i < bound; i += F.length()) {
            FloatVector v = FloatVector.fromArray(F, x, off + i);
            FloatVector inner = v.mul(v).mul(v).mul(0.044715f).add(v).mul(GELU_C);
            v.mul(0.5f).mul(inner.lanewise(VectorOperators.TANH).add(1f)).intoArray(x, off + i);
        }
        ScalarKernels.gelu(x, off + i, n - i);
    }

    /** In-place SiLU: x·σ(x). */
    public static void silu(float[] x, int off, int n) {
        int bound = F.loopBound(n);
        int i = 0;
        for (; i < bound; i += F.length()) {
            FloatVector v = FloatVector.fromArray(F, x, off + i);
            v.div(v.neg().lanewise(VectorOperators.EXP).add(1f)).intoArray(x, off + i);
        }
        ScalarKernels.silu(x, off + i, n - i);
    }

    /** Rotary embedding of one head vector at one position (see {@link ScalarKernels#rotary}). */
    public static void rotary(float[] x, int off, int headSize, float[] cos, float[] sin, int tableOff) {
        int half = headSize / 2;
        int bound = F.loopBound(half);
        int i = 0;
        for (; i < bound; i += F.length()) {
            FloatVector x1 = FloatVector.fromArray(F, x, off + i);
            FloatVector x2 = FloatVector.fromArray(F, x, off + half + i);
            FloatVector c = FloatVector.fromArray(F, cos, tableOff + i);
            FloatVector s = FloatVector.fromArray(F, sin, tableOff + i);
            x1.mul(c).sub(x2.mul(s)).intoArray(x, off + i);
            x1.mul(s).add(x2.mul(c)).intoArray(x, off + half + i);
        }
        for (; i < half; i++) {
            float x1 = x[off + i];
            float x2 = x[off + half + i];
            x[off + i] = x1 * cos[tableOff + i] - x2 * sin[tableOff + i];
            x[off + half + i] = x1 * sin[tableOff + i] + x2 * cos[tableOff + i];
        }
    }

    /** y += a·x. */
    public static void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        int bound = F.loopBound(n);
        int i = 0;
        FloatVector va = FloatVector.broadcast(F, a);
        for (; i < bound; i += F.length()) {
            FloatVector.fromArray(F, x, xOff + i).fma(va, FloatVector.fromArray(F, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] += a * x[xOff + i];
        }
    }
}
