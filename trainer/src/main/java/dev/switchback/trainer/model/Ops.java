package dev.switchback.trainer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.norm.Dropout;

/** The small functions the blocks share, each written as its equation so the engine can mirror it. */
final class Ops {
    private static final float GELU_C = (float) Math.sqrt(2 / Math.PI);

    private Ops() {}

    /** x·W^T for a weight stored [out, in]. */
    static NDArray linear(NDArray x, NDArray weight) {
        return x.matMul(weight.transpose());
    }

    /** RMSNorm: x / sqrt(mean(x²) + ε) · g. */
    static NDArray rmsNorm(NDArray x, NDArray gain, float eps) {
        NDArray ms = x.square().mean(new int[] {-1}, true);
        return x.div(ms.add(Host.scalar(x, eps)).sqrt()).mul(gain);
    }

    /** GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
    static NDArray gelu(NDArray x) {
        NDArray inner = x.add(x.mul(x).mul(x).mul(Host.scalar(x, 0.044715))).mul(Host.scalar(x, GELU_C));
        return x.mul(inner.tanh().add(Host.scalar(x, 1))).mul(Host.scalar(x, 0.5));
    }

    /** Inverted dropout when training and rate > 0; identity otherwise. */
    static NDArray dropout(NDArray x, double rate, boolean training) {
        if (!training || rate <= 0) {
            return x;
        }
        return Dropout.dropout(x, (float) rate, true).singletonOrThrow();
    }

    /** log Σ exp(x) over the last axis, computed stably. */
    static NDArray logSumExp(NDArray x) {
        NDArray max = x.max(new int[] {-1}, true).stopGradient();
        return x.sub(max).exp().sum(new int[] {-1}, true).log().add(max).squeeze(-1);
    }
}
