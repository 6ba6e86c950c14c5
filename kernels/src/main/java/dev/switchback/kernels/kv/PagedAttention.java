package dev.switchback.kernels.kv;

import dev.switchback.kernels.cpu.ScalarKernels;
import dev.switchback.kernels.cpu.VectorKernels;
import dev.switchback.kernels.tensor.Matrix;

/**
 * Causal attention of one query head over a sequence's paged cache:
 * out = Σ_j softmax_j(q·k_j·scale)·v_j over positions j &lt; {@code count}. Prefill calls it once per new position
 * with {@code count} = position + 1, so causality is the count, not a mask.
 */
public final class PagedAttention {
    private PagedAttention() {}

    /**
     * @param q query vector holder; the head's values start at {@code qOff}
     * @param headOff the head's offset within a cached key/value row
     * @param scores scratch of at least {@code count} floats
     */
    public static void attend(SequenceCache cache, int slot, int count, float[] q, int qOff, int headOff, int headSize,
            float scale, float[] scores, float[] out, int outOff) {
        BlockPool pool = cache.pool();
        int bs = pool.blockSize();
        int blocks = (count + bs - 1) / bs;
        int keyAt = pool.keyOffset(slot, headOff);
        boolean f32 = pool.format() == KvFormat.F32;
        for (int b = 0; b < blocks; b++) {
            int m = Math.min(bs, count - b * bs);
            int block = cache.block(b);
            if (f32) {
                VectorKernels.columnDots(q, qOff, pool.keys(block), keyAt, bs, headSize, m, scale, scores, b * bs);
            } else { // the head's columns widened into scratch, then the same kernel
                float[] keys = scratch(headSize * bs);
                VectorKernels.widen(pool.keys16(block), keyAt, headSize * bs, keys, 0);
                VectorKernels.columnDots(q, qOff, keys, 0, bs, headSize, m, scale, scores, b * bs);
            }
        }
        VectorKernels.softmax(scores, 0, count);
        java.util.Arrays.fill(out, outOff, outOff + headSize, 0f);
        int valueAt = pool.offset(slot, 0) + headOff;
        for (int b = 0; b < blocks; b++) {
            int m = Math.min(bs, count - b * bs);
            int block = cache.block(b);
            if (f32) {
                VectorKernels.addWeightedRows(scores, b * bs, pool.values(block), valueAt, pool.dim(), m, out, outOff, headSize);
            } else { // the head's slice of each row widened into scratch rows of headSize
                float[] values = scratch(headSize * bs);
                short[] stored = pool.values16(block);
                for (int j = 0; j < m; j++) {
                    VectorKernels.widen(stored, valueAt + j * pool.dim(), headSize, values, j * headSize);
                }
                VectorKernels.addWeightedRows(scores, b * bs, values, 0, headSize, m, out, outOff, headSize);
            }
        }
    }

    /** The scalar reference of {@link #attend}. */
    public static void attendScalar(SequenceCache cache, int slot, int count, float[] q, int qOff, int headOff,
            int headSize, float scale, float[] scores, float[] out, int outOff) {
        BlockPool pool = cache.pool();
        int bs = pool.blockSize();
        for (int j = 0; j < count; j++) {
            int block = cache.block(j / bs);
            int at = pool.keyOffset(slot, headOff) + j % bs;
            float s = 0;
            for (int i = 0; i < headSize; i++) {
                s += q[qOff + i] * key(pool, block, at + i * bs);
            }
            scores[j] = s * scale;
        }
        ScalarKernels.softmax(scores, 0, count);
        java.util.Arrays.fill(out, outOff, outOff + headSize, 0f);
        for (int j = 0; j < count; j++) {
            int block = cache.block(j / bs);
            int at = pool.offset(slot, j % bs) + headOff;
            for (int i = 0; i < headSize; i++) {
                out[outOff + i] += scores[j] * value(pool, block, at + i);
            }
        }
    }

    /** Per-thread scratch for widened BF16 keys or values (attention runs on the kernel pool's threads). */
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[1][0]);

    private static float[] scratch(int length) {
        float[][] holder = SCRATCH.get();
        if (holder[0].length < length) {
            holder[0] = new float[length];
        }
        return holder[0];
    }

    private static float key(BlockPool pool, int block, int at) {
        return pool.format() == KvFormat.F32 ? pool.keys(block)[at] : Matrix.Bf16.widen(pool.keys16(block)[at]);
    }

    private static float value(BlockPool pool, int block, int at) {
        return pool.format() == KvFormat.F32 ? pool.values(block)[at] : Matrix.Bf16.widen(pool.values16(block)[at]);
    }
}
