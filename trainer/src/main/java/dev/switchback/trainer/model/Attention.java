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

    /** x: [B, S, d] → [B, S, d]. */
    NDArray forward(NDArray x, NDManager m) {
        Shape shape = x.getShape();
        long b = shape.get(0);
        long s = shape.get(1);
        long d = shape.get(2);
        long hd = d / heads;
        NDArray q = rotary.apply(split(Ops.linear(x, wq), b, s, hd), m);
        NDArray k = rotary.apply(split(Ops.linear(x, wk), b, s, hd), m);
        NDArray v = split(Ops.linear(x, wv), b, s, hd);
        NDArray scores = q.matMul(k.transpose(0, 1, 3, 2)).mul(Host.scalar(q, 1 / Math.sqrt(hd))).add(causalMask(m, (int) s));
        NDArray y = scores.softmax(-1).matMul(v).transpose(0, 2, 1, 3).reshape(b, s, d);
        return Ops.linear(y, wo);
    }

    private NDArray split(NDArray x, long b, long s, long hd) {
        return x.reshape(b, s, heads, hd).transpose(0, 2, 1, 3);
    }

    private static NDArray causalMask(NDManager m, int s) {
        float[] mask = new float[s * s];
        for (int i = 0; i < s; i++) {
            for (int j = i + 1; j < s; j++) {
                mask[i * s + j] = Float.NEGATIVE_INFINITY;
            }
        }
        return Host.floats(m, mask, new Shape(s, s));
    }
}
