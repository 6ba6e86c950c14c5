package dev.switchback.kernels.kv;

import dev.switchback.kernels.cpu.ScalarKernels;
import dev.switchback.kernels.cpu.VectorKernels;

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
        for (int b = 0; b < blocks; b++) {
            int m = Math.min(bs, count - b * bs);
            VectorKernels.columnDots(q, qOff, pool.keys(cache.block(b)), keyAt, bs, headSize, m, scale, scores, b * bs);
        }
        VectorKernels.softmax(scores, 0, count);
        java.util.Arrays.fill(out, outOff, outOff + headSize, 0f);
        int valueAt = pool.offset(slot, 0) + headOff;
        for (int b = 0; b < blocks; b++) {
            int m = Math.min(bs, count - b * bs);
            VectorKernels.addWeightedRows(scores, b * bs, pool.values(cache.block(b)), valueAt, pool.dim(), m, out, outOff, headSize);
        }
    }

    /** The scalar reference of {@link #attend}. */
    public static void attendScalar(SequenceCache cache, int slot, int count, float[] q, int qOff, int headOff,
            int headSize, float scale, float[] scores, float[] out, int outOff) {
        BlockPool pool = cache.pool();
        int bs = pool.blockSize();
        for (int j = 0; j < count; j++) {
            float[] keys = pool.keys(cache.block(j / bs));
            int at = pool.keyOffset(slot, headOff) + j % bs;
            float s = 0;
            for (int i = 0; i < headSize; i++) {
                s += q[qOff + i] * keys[at + i * bs];
            }
            scores[j] = s * scale;
        }
        ScalarKernels.softmax(scores, 0, count);
        java.util.Arrays.fill(out, outOff, outOff + headSize, 0f);
        for (int j = 0; j < count; j++) {
            int at = pool.offset(slot, j % bs) + headOff;
            ScalarKernels.axpy(scores[j], pool.values(cache.block(j / bs)), at, out, outOff, headSize);
        }
    }
}
