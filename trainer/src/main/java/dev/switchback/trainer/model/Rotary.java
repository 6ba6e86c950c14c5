package dev.switchback.trainer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Rotary position embedding, "half split" form: a head vector x = [x1, x2] at position t becomes
 * [x1·cos − x2·sin, x1·sin + x2·cos] with angle t·θ^(−2i/headSize) for i &lt; headSize/2.
 */
final class Rotary {
    private final int half;
    private final float[] cos;
    private final float[] sin;

    Rotary(int headSize, int maxPositions, double theta) {
        this.half = headSize / 2;
        this.cos = new float[maxPositions * half];
        this.sin = new float[maxPositions * half];
        for (int t = 0; t < maxPositions; t++) {
            for (int i = 0; i < half; i++) {
                double angle = t * Math.pow(theta, -2.0 * i / headSize);
                cos[t * half + i] = (float) Math.cos(angle);
                sin[t * half + i] = (float) Math.sin(angle);
            }
        }
    }

    /** Rotates x of shape [B, H, S, headSize] for positions 0..S−1. */
    NDArray apply(NDArray x, NDManager m) {
        int s = (int) x.getShape().get(2);
        NDArray c = Host.floats(m, java.util.Arrays.copyOf(cos, s * half), new Shape(s, half));
        NDArray sn = Host.floats(m, java.util.Arrays.copyOf(sin, s * half), new Shape(s, half));
        NDArray x1 = x.get("..., :" + half);
        NDArray x2 = x.get("..., " + half + ":");
        return x1.mul(c).sub(x2.mul(sn)).concat(x1.mul(sn).add(x2.mul(c)), -1);
    }
}
