package dev.switchback.kernels.cpu;

import static dev.switchback.kernels.Floats.gamma;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.kernels.Floats;
import dev.switchback.kernels.tensor.Matrix;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link VectorKernels#matmul} for 1 to 9 tokens (the 4-token blocks, their tail, and both), F32 and BF16 weights,
 * on the caller alone and split over 4 threads, against {@link ScalarKernels#matmul} and a double-precision
 * product. Each output is a dot product over {@code cols} terms, held to γ_cols·Σ|x·w| (the float bound for any
 * summation order); every output must be written and nothing past the output touched.
 */
class MatmulTest {
    private static final int[] COLS = {1, 3, 15, 16, 17, 31, 33, 100, 257, 1000, 1024, 1031};
    private static final int[] ROWS = {1, 3, 17, 64, 257};
    private static final int SENTINELS = 3;
    /** Slack for the Vector API's implementation-defined lane reduction order, in units of u·Σ|x·w|. */
    private static final double REDUCTION_ULPS = 16;

    private static Parallel four;

    @BeforeAll
    static void pool() {
        four = new Parallel(4);
    }

    @AfterAll
    static void close() {
        four.close();
    }

    static Stream<Arguments> shapes() {
        Stream.Builder<Arguments> out = Stream.builder();
        for (int rows : ROWS) {
            for (int cols : COLS) {
                out.add(Arguments.of(rows, cols));
            }
        }
        return out.build();
    }

    private static Matrix.F32 widened(Matrix.Bf16 m) {
        float[] data = new float[m.rows() * m.cols()];
        for (int r = 0; r < m.rows(); r++) {
            m.rowInto(r, data, r * m.cols());
        }
        return Matrix.f32(data, m.rows(), m.cols());
    }

    private static float[] run(float[] x, int n, Matrix w, Parallel parallel) {
        float[] y = new float[n * w.rows() + SENTINELS];
        Arrays.fill(y, Float.NaN);
        VectorKernels.matmul(x, n, w, y, parallel);
        for (int i = 0; i < n * w.rows(); i++) {
            assertTrue(Float.isFinite(y[i]), "output " + i + " of " + n + "×" + w.rows() + " not written: " + y[i]);
        }
        for (int i = n * w.rows(); i < y.length; i++) {
            assertTrue(Float.isNaN(y[i]), "wrote past the output at " + i);
        }
        return Arrays.copyOf(y, n * w.rows());
    }

    @ParameterizedTest(name = "[{0}, {1}]")
    @MethodSource("shapes")
    void matchesScalarAndDoubleForOneToNineTokens(int rows, int cols) {
        Random r = new Random(31L * rows + cols);
        float[] data = Floats.uniform(r, rows * cols, -1, 1);
        Matrix.F32 f32 = Matrix.f32(data, rows, cols);
        Matrix.Bf16 bf16 = Matrix.bf16(data, rows, cols);
        Matrix.F32 bf16Widened = widened(bf16);
        float[] x = Floats.uniform(r, 9 * cols, -1, 1);
        for (int n = 1; n <= 9; n++) {
            for (Matrix w : new Matrix[] {f32, bf16}) {
                Matrix.F32 exactW = w == bf16 ? bf16Widened : f32;
                float[] scalar = new float[n * rows];
                ScalarKernels.matmul(x, n, w, scalar);
                float[] one = run(x, n, w, new Parallel(1));
                float[] split = run(x, n, w, four);
                String what = (w == f32 ? "F32" : "BF16") + " [" + rows + ", " + cols + "] × " + n + " tokens";
                for (int t = 0; t < n; t++) {
                    for (int o = 0; o < rows; o++) {
                        double exact = 0;
                        double magnitude = 0;
                        for (int c = 0; c < cols; c++) {
                            double p = (double) x[t * cols + c] * exactW.data()[o * cols + c];
                            exact += p;
                            magnitude += Math.abs(p);
                        }
                        double tol = gamma(cols) * magnitude;
                        int i = t * rows + o;
                        String at = what + " at token " + t + ", row " + o;
                        assertEquals(exact, one[i], tol, "1 thread vs double, " + at);
                        assertEquals(exact, split[i], tol, "4 threads vs double, " + at);
                        assertEquals(exact, scalar[i], tol, "scalar vs double, " + at);
                        assertEquals(scalar[i], one[i], 2 * tol, "1 thread vs scalar, " + at);
                        // Rows are independent: a split runs the same operations, so only the lane reduction's
                        // order (the implementation's choice) could differ.
                        assertEquals(one[i], split[i], REDUCTION_ULPS * Floats.U * magnitude, "4 threads vs 1, " + at);
                    }
                }
            }
        }
    }

    /**
     * The BF16 kernels widen exactly and then run the F32 kernels' operations in the same order, so products over
     * BF16 weights equal products over the widened weights up to the order of the final lane reduction, which the
     * Vector API leaves to the implementation: 16 ulps of Σ|x·w| is far below any real difference.
     */
    @ParameterizedTest(name = "[{0}, {1}]")
    @MethodSource("shapes")
    void bf16EqualsF32OverWidenedWeights(int rows, int cols) {
        Random r = new Random(17L * rows + cols);
        Matrix.Bf16 bf16 = Matrix.bf16(Floats.gaussian(r, rows * cols, 1), rows, cols);
        Matrix.F32 f32 = widened(bf16);
        float[] x = Floats.gaussian(r, 9 * cols, 1);
        for (int n = 1; n <= 9; n++) {
            float[] fromBf16 = run(x, n, bf16, four);
            float[] fromF32 = run(x, n, f32, four);
            float[] scalarBf16 = new float[n * rows];
            float[] scalarF32 = new float[n * rows];
            ScalarKernels.matmul(x, n, bf16, scalarBf16);
            ScalarKernels.matmul(x, n, f32, scalarF32);
            assertArrayEquals(scalarF32, scalarBf16, "the scalar reference widens exactly, n=" + n);
            for (int t = 0; t < n; t++) {
                for (int o = 0; o < rows; o++) {
                    double magnitude = 0;
                    for (int c = 0; c < cols; c++) {
                        magnitude += Math.abs((double) x[t * cols + c] * f32.data()[o * cols + c]);
                    }
                    assertEquals(fromF32[t * rows + o], fromBf16[t * rows + o], REDUCTION_ULPS * Floats.U * magnitude,
                            "BF16 vs widened F32 at token " + t + ", row " + o + ", n=" + n);
                }
            }
        }
    }

    @Test
    void largeProductIsSplitOverSevenThreadsAndAgreesWithOne() {
        int rows = 257;
        int cols = 1000;
        int n = 9;
        assertTrue((long) rows * n * cols > 7 * Parallel.MIN_WORK_PER_CHUNK, "the shape must be worth 7 chunks");
        Random r = new Random(3);
        Matrix.F32 w = Matrix.f32(Floats.uniform(r, rows * cols, -1, 1), rows, cols);
        float[] x = Floats.uniform(r, n * cols, -1, 1);
        float[] one = run(x, n, w, new Parallel(1));
        float[] split;
        try (Parallel seven = new Parallel(7)) {
            split = run(x, n, w, seven);
        }
        for (int t = 0; t < n; t++) {
            for (int o = 0; o < rows; o++) {
                double magnitude = 0;
                for (int c = 0; c < cols; c++) {
                    magnitude += Math.abs((double) x[t * cols + c] * w.data()[o * cols + c]);
                }
                assertEquals(one[t * rows + o], split[t * rows + o], REDUCTION_ULPS * Floats.U * magnitude,
                        "7 threads vs 1 at token " + t + ", row " + o);
            }
        }
    }
}
