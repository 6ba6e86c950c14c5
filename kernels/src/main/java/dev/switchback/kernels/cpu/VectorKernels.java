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
 * (a block of {@link #ROW_BLOCK} rows meets every token while it is in L1), which is what makes batched decoding
 * cheap.
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

    /** Rows {@code from … to−1} of {@link #matmul}'s result, on the calling thread (a caller splitting work itself). */
    public static void matmulRows(float[] x, int n, Matrix w, float[] y, int from, int to) {
        switch (w) {
            case Matrix.F32 f -> f32Rows(x, n, f, y, from, to);
            case Matrix.Bf16 b -> bf16Rows(x, n, b, y, from, to);
        }
    }

    /**
     * Weight rows taken together by the blocked kernels: eight running sums (4 tokens × 2 rows, 2 × 4 or 1 × 8) keep
     * the multiply-adds independent, so the loop runs at the FMA units' rate rather than one add's latency, and each
     * load of a weight or input vector feeds several of them.
     */
    public static final int ROW_BLOCK = 8;

    private static void f32Rows(float[] x, int n, Matrix.F32 m, float[] y, int from, int to) {
        int cols = m.cols();
        float[] w = m.data();
        float touched = 0;
        for (int r = from; r < to; r += ROW_BLOCK) {
            // While this block is multiplied, the next one's cache lines are loaded a few at a time (see touch).
            int next = Math.min(w.length, (r + ROW_BLOCK) * cols);
            int nextEnd = n >= 4 ? Math.min(w.length, next + ROW_BLOCK * cols) : next;
            touched += rowBlock(x, n, w, r * cols, cols, m.rows(), y, r, Math.min(ROW_BLOCK, to - r), w, null, next, nextEnd);
        }
        touchSink = touched;
    }

    /** Where the touched values go, so the compiler cannot drop the loads (threads may overwrite each other: harmless). */
    private static float touchSink;

    /** BF16 rows are widened a block at a time into scratch, then multiplied as F32: each widening serves every token. */
    private static void bf16Rows(float[] x, int n, Matrix.Bf16 m, float[] y, int from, int to) {
        short[] w = m.data();
        int cols = m.cols();
        float[] block = widenScratch(ROW_BLOCK * cols);
        float touched = 0;
        for (int r = from; r < to; r += ROW_BLOCK) {
            int count = Math.min(ROW_BLOCK, to - r);
            if (n == 1 && count == ROW_BLOCK && cols >= FUSED_MIN_COLS) {
                // One token reads each weight once: widening into scratch would store and reload every weight.
                token1Rows8(x, w, r * cols, cols, y, r);
                continue;
            }
            widenInto(w, r * cols, count * cols, block);
            int next = Math.min(w.length, (r + ROW_BLOCK) * cols);
            int nextEnd = n >= 4 ? Math.min(w.length, next + ROW_BLOCK * cols) : next;
            touched += rowBlock(x, n, block, 0, cols, m.rows(), y, r, count, null, w, next, nextEnd);
        }
        touchSink = touched;
    }

    /**
     * Shortest BF16 rows that one token reads straight from the weights, eight rows at a time, widening in registers.
     * Shorter rows make eight streams too short for the hardware prefetcher, and widening the block in one linear
     * pass reads them faster. {@code bench matmul --dtype BF16 --tokens 1} (2 threads, DRAM-resident weights): 1,024
     * columns +20–30%, 4,096 columns +60–70% read directly; 512 columns read directly were about 20% slower.
     */
    static final int FUSED_MIN_COLS = 1024;

    /** Per-thread scratch for widened rows: a fresh array per call would be allocated and zeroed once per chunk. */
    private static final ThreadLocal<float[][]> WIDENED = ThreadLocal.withInitial(() -> new float[1][0]);

    private static float[] widenScratch(int length) {
        float[][] holder = WIDENED.get();
        if (holder[0].length < length) {
            holder[0] = new float[length];
        }
        return holder[0];
    }

    private static void widenInto(short[] w, int off, int len, float[] out) {
        widen(w, off, len, out, 0);
    }

    /** dst[dstOff + i] = the F32 value of BF16 src[srcOff + i] for i &lt; len. */
    public static void widen(short[] src, int srcOff, int len, float[] dst, int dstOff) {
        int bound = F.loopBound(len);
        int i = 0;
        for (; i < bound; i += F.length()) {
            widen(src, srcOff + i).intoArray(dst, dstOff + i);
        }
        for (; i < len; i++) {
            dst[dstOff + i] = Matrix.Bf16.widen(src[srcOff + i]);
        }
    }

    /**
     * y[t, r + i] for every token t and the {@code count} rows of w starting at offset {@code wo} (row i at
     * wo + i·cols), output rows r … r + count − 1 of a [n, rows] result.
     */
    private static float rowBlock(float[] x, int n, float[] w, int wo, int cols, int rows, float[] y, int r, int count,
            float[] touchF32, short[] touchBf16, int touchFrom, int touchTo) {
        float touched = 0;
        if (count == ROW_BLOCK) {
            int t = 0;
            int calls = (n / 4) * (ROW_BLOCK / 2);
            int line = touchF32 != null ? LINE_FLOATS : 2 * LINE_FLOATS;
            int per = calls == 0 ? 0 : ((touchTo - touchFrom) / calls + line - 1) / line * line;
            int cursor = touchFrom;
            for (; t + 4 <= n; t += 4) {
                for (int i = 0; i < ROW_BLOCK; i += 2) {
                    int end = Math.min(touchTo, cursor + per);
                    touched += touchF32 != null ? touch(touchF32, cursor, end) : touch(touchBf16, cursor, end);
                    cursor = end;
                    tokens4Rows2(x, t, w, wo + i * cols, cols, rows, y, r + i);
                }
            }
            if (t + 2 <= n) {
                tokens2Rows4(x, t, w, wo, cols, rows, y, r);
                tokens2Rows4(x, t, w, wo + 4 * cols, cols, rows, y, r + 4);
                t += 2;
            }
            if (t < n) {
                token1Rows8(x, t, w, wo, cols, rows, y, r);
            }
            return touched;
        }
        for (int i = 0; i < count; i++) {
            int t = 0;
            for (; t + 4 <= n; t += 4) {
                tokens4Row1(x, t, w, wo + i * cols, cols, rows, y, r + i);
            }
            for (; t < n; t++) {
                y[t * rows + r + i] = dot(x, t * cols, w, wo + i * cols, cols);
            }
        }
        return touched;
    }

    /** Floats per 64-byte cache line. */
    private static final int LINE_FLOATS = 16;

    /**
     * Loads one float per cache line of w[from, to): on this kind of machine the weight stream from DRAM does not
     * overlap the multiply-adds by itself, since a block is pulled in by its first pass and then re-read from L1 by
     * the other token groups. Spreading the next block's loads over this block's kernel calls keeps a few misses in
     * flight while the FMA units work.
     */
    private static float touch(float[] w, int from, int to) {
        float s = 0;
        for (int i = from; i < to; i += LINE_FLOATS) {
            s += w[i];
        }
        return s;
    }

    /** {@link #touch(float[], int, int)} over BF16 weights: one short per 64-byte line. */
    private static float touch(short[] w, int from, int to) {
        int s = 0;
        for (int i = from; i < to; i += 2 * LINE_FLOATS) {
            s += w[i];
        }
        return s;
    }

    private static void tokens4Rows2(float[] x, int t, float[] w, int wo, int cols, int rows, float[] y, int r) {
        int bound = F.loopBound(cols);
        int x0 = t * cols;
        int x1 = x0 + cols;
        int x2 = x1 + cols;
        int x3 = x2 + cols;
        int w1 = wo + cols;
        FloatVector a00 = FloatVector.zero(F);
        FloatVector a01 = FloatVector.zero(F);
        FloatVector a10 = FloatVector.zero(F);
        FloatVector a11 = FloatVector.zero(F);
        FloatVector a20 = FloatVector.zero(F);
        FloatVector a21 = FloatVector.zero(F);
        FloatVector a30 = FloatVector.zero(F);
        FloatVector a31 = FloatVector.zero(F);
        int c = 0;
        for (; c < bound; c += F.length()) {
            FloatVector v0 = FloatVector.fromArray(F, w, wo + c);
            FloatVector v1 = FloatVector.fromArray(F, w, w1 + c);
            FloatVector xv = FloatVector.fromArray(F, x, x0 + c);
            a00 = xv.fma(v0, a00);
            a01 = xv.fma(v1, a01);
            xv = FloatVector.fromArray(F, x, x1 + c);
            a10 = xv.fma(v0, a10);
            a11 = xv.fma(v1, a11);
            xv = FloatVector.fromArray(F, x, x2 + c);
            a20 = xv.fma(v0, a20);
            a21 = xv.fma(v1, a21);
            xv = FloatVector.fromArray(F, x, x3 + c);
            a30 = xv.fma(v0, a30);
            a31 = xv.fma(v1, a31);
        }
        float s00 = a00.reduceLanes(VectorOperators.ADD);
        float s01 = a01.reduceLanes(VectorOperators.ADD);
        float s10 = a10.reduceLanes(VectorOperators.ADD);
        float s11 = a11.reduceLanes(VectorOperators.ADD);
        float s20 = a20.reduceLanes(VectorOperators.ADD);
        float s21 = a21.reduceLanes(VectorOperators.ADD);
        float s30 = a30.reduceLanes(VectorOperators.ADD);
        float s31 = a31.reduceLanes(VectorOperators.ADD);
        for (; c < cols; c++) {
            float v0 = w[wo + c];
            float v1 = w[w1 + c];
            s00 += x[x0 + c] * v0;
            s01 += x[x0 + c] * v1;
            s10 += x[x1 + c] * v0;
            s11 += x[x1 + c] * v1;
            s20 += x[x2 + c] * v0;
            s21 += x[x2 + c] * v1;
            s30 += x[x3 + c] * v0;
            s31 += x[x3 + c] * v1;
        }
        int y0 = t * rows + r;
        y[y0] = s00;
        y[y0 + 1] = s01;
        y[y0 + rows] = s10;
        y[y0 + rows + 1] = s11;
        y[y0 + 2 * rows] = s20;
        y[y0 + 2 * rows + 1] = s21;
        y[y0 + 3 * rows] = s30;
        y[y0 + 3 * rows + 1] = s31;
    }

    private static void tokens2Rows4(float[] x, int t, float[] w, int wo, int cols, int rows, float[] y, int r) {
        int bound = F.loopBound(cols);
        int x0 = t * cols;
        int x1 = x0 + cols;
        int w1 = wo + cols;
        int w2 = w1 + cols;
        int w3 = w2 + cols;
        FloatVector a00 = FloatVector.zero(F);
        FloatVector a01 = FloatVector.zero(F);
        FloatVector a02 = FloatVector.zero(F);
        FloatVector a03 = FloatVector.zero(F);
        FloatVector a10 = FloatVector.zero(F);
        FloatVector a11 = FloatVector.zero(F);
        FloatVector a12 = FloatVector.zero(F);
        FloatVector a13 = FloatVector.zero(F);
        int c = 0;
        for (; c < bound; c += F.length()) {
            FloatVector p = FloatVector.fromArray(F, x, x0 + c);
            FloatVector q = FloatVector.fromArray(F, x, x1 + c);
            FloatVector v = FloatVector.fromArray(F, w, wo + c);
            a00 = p.fma(v, a00);
            a10 = q.fma(v, a10);
            v = FloatVector.fromArray(F, w, w1 + c);
            a01 = p.fma(v, a01);
            a11 = q.fma(v, a11);
            v = FloatVector.fromArray(F, w, w2 + c);
            a02 = p.fma(v, a02);
            a12 = q.fma(v, a12);
            v = FloatVector.fromArray(F, w, w3 + c);
            a03 = p.fma(v, a03);
            a13 = q.fma(v, a13);
        }
        float s00 = a00.reduceLanes(VectorOperators.ADD);
        float s01 = a01.reduceLanes(VectorOperators.ADD);
        float s02 = a02.reduceLanes(VectorOperators.ADD);
        float s03 = a03.reduceLanes(VectorOperators.ADD);
        float s10 = a10.reduceLanes(VectorOperators.ADD);
        float s11 = a11.reduceLanes(VectorOperators.ADD);
        float s12 = a12.reduceLanes(VectorOperators.ADD);
        float s13 = a13.reduceLanes(VectorOperators.ADD);
        for (; c < cols; c++) {
            float p = x[x0 + c];
            float q = x[x1 + c];
            s00 += p * w[wo + c];
            s01 += p * w[w1 + c];
            s02 += p * w[w2 + c];
            s03 += p * w[w3 + c];
            s10 += q * w[wo + c];
            s11 += q * w[w1 + c];
            s12 += q * w[w2 + c];
            s13 += q * w[w3 + c];
        }
        int y0 = t * rows + r;
        y[y0] = s00;
        y[y0 + 1] = s01;
        y[y0 + 2] = s02;
        y[y0 + 3] = s03;
        y[y0 + rows] = s10;
        y[y0 + rows + 1] = s11;
        y[y0 + rows + 2] = s12;
        y[y0 + rows + 3] = s13;
    }

    private static void token1Rows8(float[] x, int t, float[] w, int wo, int cols, int rows, float[] y, int r) {
        int bound = F.loopBound(cols);
        int x0 = t * cols;
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        FloatVector a4 = FloatVector.zero(F);
        FloatVector a5 = FloatVector.zero(F);
        FloatVector a6 = FloatVector.zero(F);
        FloatVector a7 = FloatVector.zero(F);
        int c = 0;
        for (; c < bound; c += F.length()) {
            FloatVector p = FloatVector.fromArray(F, x, x0 + c);
            int at = wo + c;
            a0 = p.fma(FloatVector.fromArray(F, w, at), a0);
            a1 = p.fma(FloatVector.fromArray(F, w, at + cols), a1);
            a2 = p.fma(FloatVector.fromArray(F, w, at + 2 * cols), a2);
            a3 = p.fma(FloatVector.fromArray(F, w, at + 3 * cols), a3);
            a4 = p.fma(FloatVector.fromArray(F, w, at + 4 * cols), a4);
            a5 = p.fma(FloatVector.fromArray(F, w, at + 5 * cols), a5);
            a6 = p.fma(FloatVector.fromArray(F, w, at + 6 * cols), a6);
            a7 = p.fma(FloatVector.fromArray(F, w, at + 7 * cols), a7);
        }
        int y0 = t * rows + r;
        y[y0] = a0.reduceLanes(VectorOperators.ADD);
        y[y0 + 1] = a1.reduceLanes(VectorOperators.ADD);
        y[y0 + 2] = a2.reduceLanes(VectorOperators.ADD);
        y[y0 + 3] = a3.reduceLanes(VectorOperators.ADD);
        y[y0 + 4] = a4.reduceLanes(VectorOperators.ADD);
        y[y0 + 5] = a5.reduceLanes(VectorOperators.ADD);
        y[y0 + 6] = a6.reduceLanes(VectorOperators.ADD);
        y[y0 + 7] = a7.reduceLanes(VectorOperators.ADD);
        for (; c < cols; c++) {
            float p = x[x0 + c];
            for (int i = 0; i < ROW_BLOCK; i++) {
                y[y0 + i] += p * w[wo + i * cols + c];
            }
        }
    }

    /** Four tokens against one row (the rows left over after the blocks of {@link #ROW_BLOCK}). */
    private static void tokens4Row1(float[] x, int t, float[] w, int wo, int cols, int rows, float[] y, int r) {
        int bound = F.loopBound(cols);
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

    /** BF16 → F32 for one vector's worth of lanes: sign-extend to int, shift into the high half. */
    /** {@link #token1Rows8} over eight BF16 rows from {@code wo}, widened in registers; y[r … r + 7] of one token. */
    private static void token1Rows8(float[] x, short[] w, int wo, int cols, float[] y, int r) {
        int bound = F.loopBound(cols);
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        FloatVector a4 = FloatVector.zero(F);
        FloatVector a5 = FloatVector.zero(F);
        FloatVector a6 = FloatVector.zero(F);
        FloatVector a7 = FloatVector.zero(F);
        int c = 0;
        for (; c < bound; c += F.length()) {
            FloatVector p = FloatVector.fromArray(F, x, c);
            int at = wo + c;
            a0 = p.fma(widen(w, at), a0);
            a1 = p.fma(widen(w, at + cols), a1);
            a2 = p.fma(widen(w, at + 2 * cols), a2);
            a3 = p.fma(widen(w, at + 3 * cols), a3);
            a4 = p.fma(widen(w, at + 4 * cols), a4);
            a5 = p.fma(widen(w, at + 5 * cols), a5);
            a6 = p.fma(widen(w, at + 6 * cols), a6);
            a7 = p.fma(widen(w, at + 7 * cols), a7);
        }
        y[r] = rowSum(a0, x, w, wo, c, cols);
        y[r + 1] = rowSum(a1, x, w, wo + cols, c, cols);
        y[r + 2] = rowSum(a2, x, w, wo + 2 * cols, c, cols);
        y[r + 3] = rowSum(a3, x, w, wo + 3 * cols, c, cols);
        y[r + 4] = rowSum(a4, x, w, wo + 4 * cols, c, cols);
        y[r + 5] = rowSum(a5, x, w, wo + 5 * cols, c, cols);
        y[r + 6] = rowSum(a6, x, w, wo + 6 * cols, c, cols);
        y[r + 7] = rowSum(a7, x, w, wo + 7 * cols, c, cols);
    }

    /** A row's vector sums reduced, plus its columns from {@code c} on (past the last whole vector). */
    private static float rowSum(FloatVector sums, float[] x, short[] w, int row, int c, int cols) {
        float sum = sums.reduceLanes(VectorOperators.ADD);
        for (; c < cols; c++) {
            sum += x[c] * Matrix.Bf16.widen(w[row + c]);
        }
        return sum;
    }

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

    /**
     * out[outOff + p] = scale·Σ_{i<n} q[qOff + i]·k[kOff + i·stride + p] for p &lt; m: one query against m keys
     * stored column-wise (a key cache block, positions contiguous). The positions are the vector lanes, so no
     * horizontal sum is needed; four running sums over i keep the multiply-adds independent.
     */
    public static void columnDots(float[] q, int qOff, float[] k, int kOff, int stride, int n, int m, float scale,
            float[] out, int outOff) {
        int step = F.length();
        int p = 0;
        for (; p + step <= m; p += step) {
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            int at = kOff + p;
            int i = 0;
            for (; i + 4 <= n; i += 4, at += 4 * stride) {
                a0 = FloatVector.fromArray(F, k, at).fma(FloatVector.broadcast(F, q[qOff + i]), a0);
                a1 = FloatVector.fromArray(F, k, at + stride).fma(FloatVector.broadcast(F, q[qOff + i + 1]), a1);
                a2 = FloatVector.fromArray(F, k, at + 2 * stride).fma(FloatVector.broadcast(F, q[qOff + i + 2]), a2);
                a3 = FloatVector.fromArray(F, k, at + 3 * stride).fma(FloatVector.broadcast(F, q[qOff + i + 3]), a3);
            }
            for (; i < n; i++, at += stride) {
                a0 = FloatVector.fromArray(F, k, at).fma(FloatVector.broadcast(F, q[qOff + i]), a0);
            }
            a0.add(a1).add(a2.add(a3)).mul(scale).intoArray(out, outOff + p);
        }
        for (; p < m; p++) {
            float s = 0;
            for (int i = 0, at = kOff + p; i < n; i++, at += stride) {
                s += q[qOff + i] * k[at];
            }
            out[outOff + p] = s * scale;
        }
    }

    /**
     * out[outOff + i] += Σ_{r<rows} w[wOff + r]·v[vOff + r·stride + i] for i &lt; n: a weighted sum of rows. Up to
     * four vectors of the output stay in registers while every row is added.
     */
    public static void addWeightedRows(float[] w, int wOff, float[] v, int vOff, int stride, int rows, float[] out,
            int outOff, int n) {
        int step = F.length();
        int i = 0;
        for (; i + 4 * step <= n; i += 4 * step) {
            int o = outOff + i;
            FloatVector a0 = FloatVector.fromArray(F, out, o);
            FloatVector a1 = FloatVector.fromArray(F, out, o + step);
            FloatVector a2 = FloatVector.fromArray(F, out, o + 2 * step);
            FloatVector a3 = FloatVector.fromArray(F, out, o + 3 * step);
            for (int r = 0, at = vOff + i; r < rows; r++, at += stride) {
                FloatVector s = FloatVector.broadcast(F, w[wOff + r]);
                a0 = FloatVector.fromArray(F, v, at).fma(s, a0);
                a1 = FloatVector.fromArray(F, v, at + step).fma(s, a1);
                a2 = FloatVector.fromArray(F, v, at + 2 * step).fma(s, a2);
                a3 = FloatVector.fromArray(F, v, at + 3 * step).fma(s, a3);
            }
            a0.intoArray(out, o);
            a1.intoArray(out, o + step);
            a2.intoArray(out, o + 2 * step);
            a3.intoArray(out, o + 3 * step);
        }
        for (; i + step <= n; i += step) {
            FloatVector a = FloatVector.fromArray(F, out, outOff + i);
            for (int r = 0, at = vOff + i; r < rows; r++, at += stride) {
                a = FloatVector.fromArray(F, v, at).fma(FloatVector.broadcast(F, w[wOff + r]), a);
            }
            a.intoArray(out, outOff + i);
        }
        for (; i < n; i++) {
            float s = out[outOff + i];
            for (int r = 0, at = vOff + i; r < rows; r++, at += stride) {
                s += w[wOff + r] * v[at];
            }
            out[outOff + i] = s;
        }
    }
}
