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
        for (int j = 0; j < count; j++) {
            int at = pool.offset(slot, j % bs) + headOff;
            scores[j] = VectorKernels.dot(q, qOff, pool.keys(cache.block(j / bs)), at, headSize) * scale;
        }
        VectorKernels.softmax(scores, 0, count);
        java.util.Arrays.fill(out, outOff, outOff + headSize, 0f);
        for (int j = 0; j < count; j++) {
            int at = pool.offset(slot, j % bs) + headOff;
            VectorKernels.axpy(scores[j], pool.values(cache.block(j / bs)), at, out, outOff, headSize);
        }
    }

    /** The scalar reference of {@link #attend}. */
    public static void attendScalar(SequenceCache cache, int slot, int count, float[] q, int qOff, int headOff,
            int headSize, float scale, float[] scores, float[] out, int outOff) {
        BlockPool pool = cache.pool();
        int bs = pool.blockSize();
        for (int j = 0; j < count; j++) {
            int at = pool.offset(slot, j % bs) + headOff;
            scores[j] = ScalarKernels.dot(q, qOff, pool.keys(cache.block(j / bs)), at, headSize) * scale;
        }
        ScalarKernels.softmax(scores, 0, count);
        java.util.Arrays.fill(out, outOff, outOff + headSize, 0f);
        for (int j = 0; j < count; j++) {
            int at = pool.offset(slot, j % bs) + headOff;
            ScalarKernels.axpy(scores[j], pool.values(cache.block(j / bs)), at, out, outOff, headSize);
        }
    }
}
