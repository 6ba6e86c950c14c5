package dev.switchback.kernels.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.kernels.Floats;
import dev.switchback.kernels.cpu.Parallel;
import dev.switchback.kernels.cpu.ScalarKernels;
import dev.switchback.kernels.tensor.Matrix;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link CpuBackend#feedForwardAll}: a layer's experts run together, every expert's weight rows cut into pieces
 * spread over the pool, must give each call what the scalar reference W₂·GELU(W₁·x) gives it alone, for token
 * counts from 0 to 9, shapes that are not multiples of the piece or the vector length, F32 and BF16 weights; and
 * every call with tokens gets compute time. {@link CpuBackend#linearAll} likewise for products of one input.
 */
class CpuBackendTest {
    private static Parallel four;

    @BeforeAll
    static void pool() {
        four = new Parallel(4);
    }

    @AfterAll
    static void close() {
        four.close();
    }

    @Test
    void expertsRunTogetherEqualEachExpertAloneF32() {
        check(false);
    }

    @Test
    void expertsRunTogetherEqualEachExpertAloneBf16() {
        check(true);
    }

    private static void check(boolean bf16) {
        Random random = new Random(bf16 ? 11 : 7);
        // d × hidden shapes: d 200 with hidden 700 makes W₁'s 700 rows several pieces with a ragged last one and
        // W₂'s 200 rows of 700 columns pieces of 16 rows; d 3 makes pieces of whole small matrices.
        for (int[] shape : new int[][] {{200, 700}, {3, 10}, {64, 256}}) {
            int d = shape[0];
            int hidden = shape[1];
            List<Backend.FeedForward> calls = new ArrayList<>();
            List<float[]> expected = new ArrayList<>();
            for (int n : new int[] {1, 0, 2, 9, 3, 5, 4}) {
                float[] x = Floats.gaussian(random, n * d, 1.0);
                float[] w1 = Floats.gaussian(random, hidden * d, 0.1);
                float[] w2 = Floats.gaussian(random, d * hidden, 0.1);
                Matrix m1 = bf16 ? Matrix.bf16(w1, hidden, d) : Matrix.f32(w1, hidden, d);
                Matrix m2 = bf16 ? Matrix.bf16(w2, d, hidden) : Matrix.f32(w2, d, hidden);
                float[] h = new float[n * hidden];
                ScalarKernels.matmul(x, n, m1, h);
                ScalarKernels.gelu(h, 0, h.length);
                float[] y = new float[n * d];
                ScalarKernels.matmul(h, n, m2, y);
                expected.add(y);
                float[] out = new float[n * d];
                Arrays.fill(out, Float.NaN); // every output must be written
                calls.add(new Backend.FeedForward(x, n, m1, m2, out));
            }
            long[] nanos = new long[calls.size()];
            new CpuBackend(four).feedForwardAll(calls, nanos);
            for (int i = 0; i < calls.size(); i++) {
                float[] got = calls.get(i).out();
                float[] want = expected.get(i);
                for (int j = 0; j < want.length; j++) {
                    double scale = Math.max(1.0, Math.abs(want[j]));
                    assertEquals(want[j], got[j], 1e-4 * scale, "d " + d + ", call " + i + ", output " + j);
                }
                if (calls.get(i).n() > 0) {
                    assertTrue(nanos[i] > 0, "call " + i + " with tokens has no compute time");
                } else {
                    assertEquals(0, nanos[i], "call " + i + " without tokens");
                }
            }
        }
    }

    @Test
    void oneFeedForwardEqualsTheSameCallAmongOthers() {
        Random random = new Random(3);
        int d = 96;
        int hidden = 384;
        float[] x = Floats.gaussian(random, 6 * d, 1.0);
        Matrix w1 = Matrix.f32(Floats.gaussian(random, hidden * d, 0.1), hidden, d);
        Matrix w2 = Matrix.f32(Floats.gaussian(random, d * hidden, 0.1), d, hidden);
        float[] alone = new float[6 * d];
        CpuBackend backend = new CpuBackend(four);
        backend.feedForward(x, 6, w1, w2, alone);
        float[] together = new float[6 * d];
        backend.feedForwardAll(List.of(new Backend.FeedForward(x, 2, w1, w2, new float[2 * d]),
                new Backend.FeedForward(x, 6, w1, w2, together)), new long[2]);
        // The same rows in the same blocks: identical bits, whatever else runs beside them.
        assertTrue(Arrays.equals(alone, together));
    }

    @Test
    void productsOfOneInputRunTogetherEqualTheScalarReference() {
        Random random = new Random(5);
        for (int n : new int[] {1, 3, 16}) {
            int d = 136;
            float[] x = Floats.gaussian(random, n * d, 1.0);
            List<Matrix> ws = List.of(Matrix.f32(Floats.gaussian(random, 136 * d, 0.1), 136, d),
                    Matrix.bf16(Floats.gaussian(random, 9 * d, 0.1), 9, d), Matrix.f32(Floats.gaussian(random, 300 * d, 0.1), 300, d));
            List<float[]> ys = ws.stream().map(w -> {
                float[] y = new float[n * w.rows()];
                Arrays.fill(y, Float.NaN);
                return y;
            }).toList();
            new CpuBackend(four).linearAll(x, n, ws, ys);
            for (int i = 0; i < ws.size(); i++) {
                float[] want = new float[n * ws.get(i).rows()];
                ScalarKernels.matmul(x, n, ws.get(i), want);
                for (int j = 0; j < want.length; j++) {
                    assertEquals(want[j], ys.get(i)[j], 1e-4 * Math.max(1.0, Math.abs(want[j])), "n " + n + ", product " + i + ", output " + j);
                }
            }
        }
    }
}
