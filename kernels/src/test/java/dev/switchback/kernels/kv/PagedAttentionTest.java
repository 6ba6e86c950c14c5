package dev.switchback.kernels.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.kernels.Floats;
import dev.switchback.kernels.tensor.Matrix;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link PagedAttention#attend} against {@link PagedAttention#attendScalar} and against attention computed in
 * double straight from the keys and values written (not through the cache), for block sizes from 1 to 16 and
 * lengths on both sides of block boundaries, in a non-zero slot and head, on a sequence whose blocks are
 * interleaved with another's in the pool.
 */
class PagedAttentionTest {
    private static final int HEADS = 3;
    private static final int SLOTS = 3;
    private static final int LENGTH = 50;

    static Stream<Arguments> layouts() {
        Stream.Builder<Arguments> out = Stream.builder();
        for (KvFormat format : KvFormat.values()) {
            for (int bs : new int[] {1, 2, 3, 4, 7, 16}) {
                for (int headSize : new int[] {2, 6, 16, 34}) {
                    out.add(Arguments.of(bs, headSize, format));
                }
            }
        }
        return out.build();
    }

    @ParameterizedTest(name = "block size {0}, head size {1}, {2}")
    @MethodSource("layouts")
    void matchesScalarAndDouble(int bs, int headSize, KvFormat format) {
        Random r = new Random(97L * bs + headSize);
        int dim = HEADS * headSize;
        BlockPool pool = new BlockPool(2 * (LENGTH / bs + 1), bs, SLOTS, dim, format);
        SequenceCache seq = new SequenceCache(pool);
        SequenceCache other = new SequenceCache(pool);
        float[][][] keys = new float[SLOTS][LENGTH][];
        float[][][] values = new float[SLOTS][LENGTH][];
        for (int p = 0; p < LENGTH; p++) {
            seq.reserve(p + 1);
            other.reserve(p + 1);
            for (int s = 0; s < SLOTS; s++) {
                keys[s][p] = Floats.uniform(r, dim, -1, 1);
                values[s][p] = Floats.uniform(r, dim, -1, 1);
                seq.write(s, p, keys[s][p], 0, values[s][p], 0);
                other.write(s, p, Floats.uniform(r, dim, -1, 1), 0, Floats.uniform(r, dim, -1, 1), 0);
                if (format == KvFormat.BF16) { // the reference sees what the cache holds
                    keys[s][p] = roundedToBf16(keys[s][p]);
                    values[s][p] = roundedToBf16(values[s][p]);
                }
            }
        }
        seq.setLength(LENGTH);
        int slot = 1;
        int head = 2;
        float scale = (float) (1 / Math.sqrt(headSize));
        float[] scores = new float[LENGTH];
        int[] counts = {1, 2, bs - 1, bs, bs + 1, 2 * bs - 1, 2 * bs, 2 * bs + 1, 3 * bs + 2, LENGTH - 1, LENGTH};
        for (int count : counts) {
            if (count < 1 || count > LENGTH) {
                continue;
            }
            int qOff = 5;
            int outOff = 3;
            float[] q = new float[qOff + headSize];
            System.arraycopy(Floats.uniform(r, headSize, -2, 2), 0, q, qOff, headSize);
            float[] vector = new float[outOff + headSize + 2];
            Arrays.fill(vector, Float.NaN);
            float[] scalar = vector.clone();
            PagedAttention.attend(seq, slot, count, q, qOff, head * headSize, headSize, scale, scores, vector, outOff);
            PagedAttention.attendScalar(seq, slot, count, q, qOff, head * headSize, headSize, scale, scores, scalar, outOff);
            double[] exact = attentionDouble(keys[slot], values[slot], count, q, qOff, head * headSize, headSize, scale);
            for (int i = 0; i < headSize; i++) {
                // Scores within γ_h of Σ|q·k| ≤ 2h/√h; softmax and the weighted sum of count values in [−1, 1] add
                // γ_count: about 1e-6 here, 1e-5 leaves room while any misplaced key or value moves an output by
                // ~1/count ≥ 0.02.
                String at = "count " + count + ", element " + i;
                assertEquals(exact[i], vector[outOff + i], 1e-5, "vector vs double, " + at);
                assertEquals(exact[i], scalar[outOff + i], 1e-5, "scalar vs double, " + at);
                assertEquals(scalar[outOff + i], vector[outOff + i], 1e-5, "vector vs scalar, " + at);
            }
            for (int i : new int[] {0, 1, 2, outOff + headSize, outOff + headSize + 1}) {
                assertTrue(Float.isNaN(vector[i]), "wrote outside the head's output at " + i);
            }
        }
    }

    private static float[] roundedToBf16(float[] x) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = Matrix.Bf16.widen(Matrix.Bf16.round(x[i]));
        }
        return out;
    }

    private static double[] attentionDouble(float[][] keys, float[][] values, int count, float[] q, int qOff, int headOff,
            int headSize, float scale) {
        double[] w = new double[count];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < count; j++) {
            double s = 0;
            for (int i = 0; i < headSize; i++) {
                s += (double) q[qOff + i] * keys[j][headOff + i];
            }
            w[j] = s * scale;
            max = Math.max(max, w[j]);
        }
        double sum = 0;
        for (int j = 0; j < count; j++) {
            w[j] = Math.exp(w[j] - max);
            sum += w[j];
        }
        double[] out = new double[headSize];
        for (int j = 0; j < count; j++) {
            for (int i = 0; i < headSize; i++) {
                out[i] += w[j] / sum * values[j][headOff + i];
            }
        }
        return out;
    }

    /**
     * A query that selects one position: keys are unit vectors at distinct angles in the head's first two
     * dimensions, the query a large multiple of position p's key, so softmax puts (numerically) all weight on p and
     * the output is p's value. Every position of every block, in each slot, must come back.
     */
    @Test
    void aOneHotQueryReadsBackThePositionWritten() {
        int bs = 4;
        int headSize = 4;
        int dim = 2 * headSize;
        int length = 19;
        BlockPool pool = new BlockPool(12, bs, 2, dim);
        SequenceCache filler = new SequenceCache(pool);
        filler.reserve(1); // so the sequence does not start at pool block 0
        SequenceCache seq = new SequenceCache(pool);
        seq.reserve(length);
        for (int p = 0; p < length; p++) {
            for (int s = 0; s < 2; s++) {
                float[] k = new float[dim];
                float[] v = new float[dim];
                double angle = Math.PI * p / length; // half a turn: distinct directions, cos Δ ≤ cos(π/19)
                k[headSize] = (float) Math.cos(angle);
                k[headSize + 1] = (float) Math.sin(angle);
                for (int i = 0; i < dim; i++) {
                    v[i] = 1000 * s + 10 * p + i;
                }
                seq.write(s, p, k, 0, v, 0);
            }
        }
        seq.setLength(length);
        float[] scores = new float[length];
        for (int s = 0; s < 2; s++) {
            for (int p = 0; p < length; p++) {
                double angle = Math.PI * p / length;
                // score gap ≥ 4000·(1 − cos(π/19)) ≈ 55: the other weights are below e⁻⁵⁵.
                float[] q = {(float) (4000 * Math.cos(angle)), (float) (4000 * Math.sin(angle)), 0, 0};
                float[] out = new float[headSize];
                PagedAttention.attend(seq, s, length, q, 0, headSize, headSize, 1f, scores, out, 0);
                for (int i = 0; i < headSize; i++) {
                    assertEquals(1000 * s + 10 * p + headSize + i, out[i], 1e-3,
                            "slot " + s + ", position " + p + " (block " + p / bs + ", row " + p % bs + ")");
                }
            }
        }
        // Points between positions 9 and 10; with count 5 only 0..4 are visible, and 4 is the nearest of those.
        float[] q = {0, 4000, 0, 0};
        float[] out = new float[headSize];
        PagedAttention.attend(seq, 0, 5, q, 0, headSize, headSize, 1f, scores, out, 0);
        assertEquals(10 * 4 + headSize, out[0], 1e-3, "causality is the count: the nearest visible position wins");
    }
}
