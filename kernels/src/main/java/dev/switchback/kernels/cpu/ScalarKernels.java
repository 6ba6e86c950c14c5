package dev.switchback.kernels.cpu;

import dev.switchback.kernels.tensor.Matrix;

/**
 * Plain-loop references for every {@link VectorKernels} kernel, written as the equations; tests hold the vector
 * kernels to these. Accumulation is in float, in index order.
 */
public final class ScalarKernels {
    private static final float GELU_C = (float) Math.sqrt(2 / Math.PI);

    private ScalarKernels() {}

    /** Σ a[i]·b[i]. */
    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        float s = 0;
        for (int i = 0; i < n; i++) {
            s += a[aOff + i] * b[bOff + i];
        }
        return s;
    }

    /** y[t, r] = Σ_c x[t, c]·W[r, c] for {@code n} rows of x. */
    public static void matmul(float[] x, int n, Matrix w, float[] y) {
        for (int r = 0; r < w.rows(); r++) {
            float[] row = w.row(r);
            for (int t = 0; t < n; t++) {
                y[t * w.rows() + r] = dot(x, t * w.cols(), row, 0, w.cols());
            }
        }
    }

    /** out = x / √(mean(x²) + ε) · gain over one row of {@code d} values. */
    public static void rmsNorm(float[] x, int xOff, float[] gain, float eps, float[] out, int outOff, int d) {
        float ss = 0;
        for (int i = 0; i < d; i++) {
            ss += x[xOff + i] * x[xOff + i];
        }
        float inv = (float) (1 / Math.sqrt(ss / d + eps));
        for (int i = 0; i < d; i++) {
            out[outOff + i] = x[xOff + i] * inv * gain[i];
        }
    }

    /** out = (x − mean) / √(var + ε) · gain + bias over one row of {@code d} values (bias may be null). */
    public static void layerNorm(float[] x, int xOff, float[] gain, float[] bias, float eps, float[] out, int outOff, int d) {
        float sum = 0;
        for (int i = 0; i < d; i++) {
            sum += x[xOff + i];
        }
        float mean = sum / d;
        float var = 0;
        for (int i = 0; i < d; i++) {
            float c = x[xOff + i] - mean;
            var += c * c;
        }
        float inv = (float) (1 / Math.sqrt(var / d + eps));
        for (int i = 0; i < d; i++) {
            out[outOff + i] = (x[xOff + i] - mean) * inv * gain[i] + (bias == null ? 0 : bias[i]);
        }
    }

    /** In-place softmax of {@code n} values. */
    public static void softmax(float[] x, int off, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, x[off + i]);
        }
        float sum = 0;
        for (int i = 0; i < n; i++) {
            x[off + i] = (float) Math.exp(x[off + i] - max);
            sum += x[off + i];
        }
        for (int i = 0; i < n; i++) {
            x[off + i] /= sum;
        }
    }

    /** In-place GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
    public static void gelu(float[] x, int off, int n) {
        for (int i = off; i < off + n; i++) {
            float v = x[i];
            x[i] = 0.5f * v * (1 + (float) Math.tanh(GELU_C * (v + 0.044715f * v * v * v)));
        }
    }

    /** In-place SiLU: x·σ(x). */
    public static void silu(float[] x, int off, int n) {
        for (int i = off; i < off + n; i++) {
            x[i] = x[i] / (1 + (float) Math.exp(-x[i]));
        }
    }

    /**
     * Rotary embedding of one head vector, half-split form: [x1, x2] → [x1·cos − x2·sin, x1·sin + x2·cos], with
     * the position's angles at {@code cos[tableOff..]}, {@code sin[tableOff..]} (headSize/2 each).
     */
    public static void rotary(float[] x, int off, int headSize, float[] cos, float[] sin, int tableOff) {
        int half = headSize / 2;
        for (int i = 0; i < half; i++) {
            float x1 = x[off + i];
            float x2 = x[off + half + i];
            float c = cos[tableOff + i];
            float s = sin[tableOff + i];
            x[off + i] = x1 * c - x2 * s;
            x[off + half + i] = x1 * s + x2 * c;
        }
    }

    /** y += a·x. */
    public static void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i++) {
            y[yOff + i] += a * x[xOff + i];
        }
    }
}
