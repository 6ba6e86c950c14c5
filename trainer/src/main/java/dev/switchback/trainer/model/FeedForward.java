package dev.switchback.trainer.model;

import ai.djl.ndarray.NDArray;

/** The position-wise FFN, W₂·GELU(W₁·x); a dense block's FFN and each expert are one of these. */
final class FeedForward {
    private final NDArray w1;
    private final NDArray w2;
    private final double hiddenDropout;

    FeedForward(NDArray w1, NDArray w2, double hiddenDropout) {
        this.w1 = w1;
        this.w2 = w2;
        this.hiddenDropout = hiddenDropout;
    }

    NDArray forward(NDArray x, boolean training) {
        NDArray h = Ops.dropout(Ops.gelu(Ops.linear(x, w1)), hiddenDropout, training);
        return Ops.linear(h, w2);
    }
}
