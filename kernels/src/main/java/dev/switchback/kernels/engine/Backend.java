package dev.switchback.kernels.engine;

import dev.switchback.kernels.tensor.Matrix;

/**
 * Where the engine's heavy products run: the CPU (Vector API) today, a CUDA device through java.lang.foreign
 * later. Activations cross as host float arrays of {@code n} rows; a device backend keeps its copy of each
 * {@link Matrix} resident, keyed by identity, so weights cross once.
 */
public interface Backend {
    /** A short name of the device, e.g. {@code cpu} or {@code cuda:0}. */
    String device();

    /** y[n, w.rows] = x[n, w.cols]·Wᵀ. */
    void linear(float[] x, int n, Matrix w, float[] y);

    /** out[n, d] = W₂·GELU(W₁·x) for each of the n rows of x[n, d] (a dense FFN or one expert). */
    void feedForward(float[] x, int n, Matrix w1, Matrix w2, float[] out);
}
