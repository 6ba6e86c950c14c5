package dev.switchback.kernels.engine;

import dev.switchback.kernels.cpu.Parallel;
import dev.switchback.kernels.cpu.VectorKernels;
import dev.switchback.kernels.kv.PagedAttention;
import dev.switchback.kernels.tensor.Matrix;
import dev.switchback.store.model.RotaryTables;
import java.util.List;

/**
 * Causal multi-head self-attention with rotary positions over the paged KV cache:
 * softmax(q·Kᵀ/√d_h)·V·W_o, each new token attending to its sequence's cached positions and itself.
 */
final class Attention {
    private final Matrix wq;
    private final Matrix wk;
    private final Matrix wv;
    private final Matrix wo;
    private final int heads;
    private final int headSize;
    private final Rotary rotary;

    Attention(Matrix wq, Matrix wk, Matrix wv, Matrix wo, int heads, Rotary rotary) {
        this.wq = wq;
        this.wk = wk;
        this.wv = wv;
        this.wo = wo;
        this.heads = heads;
        this.headSize = wq.rows() / heads;
        this.rotary = rotary;
    }

    /** x: normalised [tokens, d] → the attention output [tokens, d]; writes this slot's keys and values. */
    float[] forward(Batch b, float[] x, int slot, Backend backend, Parallel parallel) {
        int d = wq.rows();
        int n = b.tokens;
        float[] q = new float[n * d];
        float[] k = new float[n * d];
        float[] v = new float[n * d];
        backend.linearAll(x, n, List.of(wq, wk, wv), List.of(q, k, v));
        float[] out = new float[n * d];
        float scale = (float) (1 / Math.sqrt(headSize));
        long workPerItem = (long) (b.positions[n - 1] + 1) * headSize * 2;
        // Each (token, head) item rotates its query and key slices and writes its key and value slices to the cache,
        // on the thread that then attends with them. With one new token per sequence (decoding) nothing an item
        // attends to is written by another, so both happen in one pass; a prompt's tokens attend to each other's
        // keys, so there every write finishes before any token attends.
        boolean decoding = n == b.lastRow.length;
        parallel.forRange(n * heads, decoding ? workPerItem : (long) headSize * 64, (from, to) -> {
            float[] scores = decoding ? new float[rotary.maxPositions()] : null;
            for (int i = from; i < to; i++) {
                int t = i / heads;
                int h = i % heads;
                int off = t * d + h * headSize;
                rotary.apply(q, off, b.positions[t]);
                rotary.apply(k, off, b.positions[t]);
                b.owner[t].cache().write(slot, b.positions[t], k, t * d, v, t * d, h * headSize, (h + 1) * headSize);
                if (decoding) {
                    attend(b, slot, q, i, scale, scores, out);
                }
            }
        });
        if (!decoding) {
            parallel.forRange(n * heads, workPerItem, (from, to) -> {
                float[] scores = new float[rotary.maxPositions()];
                for (int i = from; i < to; i++) {
                    attend(b, slot, q, i, scale, scores, out);
                }
            });
        }
        float[] y = new float[n * d];
        backend.linear(out, n, wo, y);
        return y;
    }

    /** Item i = (token i / heads, head i % heads) attends over its sequence's cache up to its own position, into out. */
    private void attend(Batch b, int slot, float[] q, int i, float scale, float[] scores, float[] out) {
        int t = i / heads;
        int h = i % heads;
        int off = t * wq.rows() + h * headSize;
        PagedAttention.attend(b.owner[t].cache(), slot, b.positions[t] + 1, q, off, h * headSize, headSize, scale, scores, out, off);
    }

    /** Rotary angle tables (the trainer's own, {@link RotaryTables}). */
    static final class Rotary {
        private final int headSize;
        private final int half;
        private final int maxPositions;
        private final float[] cos;
        private final float[] sin;

        Rotary(int headSize, int maxPositions, double theta) {
            RotaryTables tables = RotaryTables.of(headSize, maxPositions, theta);
            this.headSize = headSize;
            this.half = headSize / 2;
            this.maxPositions = maxPositions;
            this.cos = tables.cos();
            this.sin = tables.sin();
        }

        void apply(float[] x, int off, int position) {
            VectorKernels.rotary(x, off, headSize, cos, sin, position * half);
        }

        int maxPositions() {
            return maxPositions;
        }

        /** cos of each (position, pair) angle, [maxPositions, headSize/2] (the CUDA engine uploads these). */
        float[] cosTable() {
            return cos;
        }

        float[] sinTable() {
            return sin;
        }
    }
}
