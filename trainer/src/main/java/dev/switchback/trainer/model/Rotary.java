package dev.switchback.trainer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.switchback.store.model.RotaryTables;
import java.util.Arrays;

/**
 * Rotary position embedding, "half split" form: a head vector x = [x1, x2] at position t becomes
 * [x1·cos − x2·sin, x1·sin + x2·cos] with angle t·θ^(−2i/headSize) for i &lt; headSize/2.
 */
final class Rotary {
    private final int half;
    private final float[] cos;
    private final float[] sin;

    /** cos and sin of the angles of consecutive positions, each [positions, headSize/2]. */
    record Angles(NDArray cos, NDArray sin) {}

    Rotary(int headSize, int maxPositions, double theta) {
        RotaryTables tables = RotaryTables.of(headSize, maxPositions, theta);
        this.half = headSize / 2;
        this.cos = tables.cos();
        this.sin = tables.sin();
    }

    /** Rotates x of shape [B, H, S, headSize] for positions 0..S−1. */
    NDArray apply(NDArray x, NDManager m) {
        return apply(x, angles(m, 0, (int) x.getShape().get(2)));
    }

    /** The angles of positions {@code from}..{@code from + count − 1}. */
    Angles angles(NDManager m, int from, int count) {
        int lo = from * half;
        int hi = (from + count) * half;
        return new Angles(Host.floats(m, Arrays.copyOfRange(cos, lo, hi), new Shape(count, half)),
                Host.floats(m, Arrays.copyOfRange(sin, lo, hi), new Shape(count, half)));
    }

    /** Rotates x of shape [B, H, S, headSize] by angles of S positions. */
    NDArray apply(NDArray x, Angles a) {
        NDArray x1 = x.get("..., :" + half);
        NDArray x2 = x.get("..., " + half + ":");
        return x1.mul(a.cos()).sub(x2.mul(a.sin())).concat(x1.mul(a.sin()).add(x2.mul(a.cos())), -1);
    }
}
