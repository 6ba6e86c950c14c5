package dev.switchback.store.model;

/**
 * The rotary position tables every implementation of a model shares (trainer, native engines, ONNX export), so that
 * their angles agree bit for bit: angle(t, i) = t·θ^(−2i/headSize) for positions t &lt; {@code positions} and pairs
 * i &lt; headSize/2, computed in double and rounded once to float. "Half split" rotation: a head vector [x1, x2] at
 * position t becomes [x1·cos − x2·sin, x1·sin + x2·cos].
 *
 * @param cos cos of each angle, [positions, headSize/2] row-major
 * @param sin sin of each angle, same layout
 */
public record RotaryTables(int headSize, int positions, float[] cos, float[] sin) {
    public static RotaryTables of(int headSize, int positions, double theta) {
        if (headSize < 2 || headSize % 2 != 0 || positions < 1 || !(theta > 0)) {
            throw new IllegalArgumentException("rotary tables need an even head size ≥ 2, positions ≥ 1 and θ > 0; got "
                    + headSize + ", " + positions + ", " + theta);
        }
        int half = headSize / 2;
        float[] cos = new float[positions * half];
        float[] sin = new float[positions * half];
        for (int t = 0; t < positions; t++) {
            for (int i = 0; i < half; i++) {
                double angle = t * Math.pow(theta, -2.0 * i / headSize);
                cos[t * half + i] = (float) Math.cos(angle);
                sin[t * half + i] = (float) Math.sin(angle);
            }
        }
        return new RotaryTables(headSize, positions, cos, sin);
    }
}
