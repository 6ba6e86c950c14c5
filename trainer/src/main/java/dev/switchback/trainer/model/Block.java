package dev.switchback.trainer.model;

import ai.djl.ndarray.NDArray;

/** A pre-norm Transformer block: h = x + Attn(norm(x)); y = h + FFN(norm(h)), FFN dense or experts. */
final class Block {
    private final int layer;
    private final NDArray attnNorm;
    private final Attention attention;
    private final NDArray ffnNorm;
    private final FeedForward dense;
    private final ExpertFfn experts;
    private final float eps;
    private final double dropout;

    Block(int layer, NDArray attnNorm, Attention attention, NDArray ffnNorm, FeedForward dense, ExpertFfn experts,
            float eps, double dropout) {
        this.layer = layer;
        this.attnNorm = attnNorm;
        this.attention = attention;
        this.ffnNorm = ffnNorm;
        this.dense = dense;
        this.experts = experts;
        this.eps = eps;
        this.dropout = dropout;
    }

    NDArray forward(NDArray x, ForwardPass pass) {
        NDArray a = attention.forward(Ops.rmsNorm(x, attnNorm, eps), layer, pass);
        NDArray h = x.add(Ops.dropout(a, dropout, pass.training()));
        NDArray n = Ops.rmsNorm(h, ffnNorm, eps);
        NDArray f = experts != null ? experts.forward(n, layer, pass) : dense.forward(n, pass.training());
        return h.add(Ops.dropout(f, dropout, pass.training()));
    }
}
