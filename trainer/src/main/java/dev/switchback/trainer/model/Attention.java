package dev.switchback.trainer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/** Causal multi-head self-attention with rotary positions: softmax(QKᵀ/√d_h + mask)·V·W_o. */
final class Attention {
    private final NDArray wq;
    private final NDArray wk;
    private final NDArray wv;
    private final NDArray wo;
    private final int heads;
    private final Rotary rotary;

    Attention(NDArray wq, NDArray wk, NDArray wv, NDArray wo, int heads, Rotary rotary) {
        this.wq = wq;
        this.wk = wk;
        this.wv = wv;
        this.wo = wo;
        this.heads = heads;
        this.rotary = rotary;
    }

    /**
     * x: [B, S, d] → [B, S, d]. Over the whole sequence from position 0, or, when {@code pass} decodes with a
     * {@link KvCache}, over the cached positions of (ladder pass, {@code layer}) plus these S new ones.
     */
    NDArray forward(NDArray x, int layer, ForwardPass pass) {
        Shape shape = x.getShape();
        long b = shape.get(0);
        long s = shape.get(1);
        long hd = shape.get(2) / heads;
        NDArray q = split(Ops.linear(x, wq), b, s, hd);
        NDArray k = split(Ops.linear(x, wk), b, s, hd);
        NDArray v = split(Ops.linear(x, wv), b, s, hd);
        KvCache cache = pass.kvCache();
        if (cache == null) {
            NDManager m = pass.manager();
            return attend(rotary.apply(q, m), rotary.apply(k, m), v, causalMask(m, (int) s, 0));
        }
        Rotary.Angles angles = cache.chunkAngles();
        KvCache.Attended all = cache.append(pass.ladderPass(), layer, rotary.apply(k, angles), v);
        return attend(rotary.apply(q, angles), all.keys(), all.values(), cache.chunkMask());
    }

    /** q: [B, H, S, hd] against k, v: [B, H, T, hd]; mask [S, T] or null → [B, S, d]. */
    private NDArray attend(NDArray q, NDArray k, NDArray v, NDArray mask) {
        Shape shape = q.getShape();
        long hd = shape.get(3);
        NDArray scores = q.matMul(k.transpose(0, 1, 3, 2)).mul(Host.scalar(q, 1 / Math.sqrt(hd)));
        if (mask != null) {
            scores = scores.add(mask);
        }
        NDArray y = scores.softmax(-1).matMul(v).transpose(0, 2, 1, 3).reshape(shape.get(0), shape.get(2), heads * hd);
        return Ops.linear(y, wo);
    }

    private NDArray split(NDArray x, long b, long s, long hd) {
        return x.reshape(b, s, heads, hd).transpose(0, 2, 1, 3);
    }

    /** [S, past + S]: query i (at position past + i) sees keys 0..past + i. */
    static NDArray causalMask(NDManager m, int s, int past) {
        int t = past + s;
        float[] mask = new float[s * t];
        for (int i = 0; i < s; i++) {
            for (int j = past + i + 1; j < t; j++) {
                mask[i * t + j] = Float.NEGATIVE_INFINITY;
            }
        }
        return Host.floats(m, mask, new Shape(s, t));
    }
}
