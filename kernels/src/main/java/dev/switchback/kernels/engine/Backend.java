package dev.switchback.kernels.engine;

import dev.switchback.kernels.tensor.Matrix;
import java.util.List;

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

    /** ys[i] = x·ws[i]ᵀ for every i: products of one input (a layer's queries, keys and values), run together where the backend can. */
    default void linearAll(float[] x, int n, List<Matrix> ws, List<float[]> ys) {
        for (int i = 0; i < ws.size(); i++) {
            linear(x, n, ws.get(i), ys.get(i));
        }
    }

    /** out[n, d] = W₂·GELU(W₁·x) for each of the n rows of x[n, d] (a dense FFN or one expert). */
    void feedForward(float[] x, int n, Matrix w1, Matrix w2, float[] out);

    /** One feed-forward of several run together: out[n, d] = W₂·GELU(W₁·x). */
    record FeedForward(float[] x, int n, Matrix w1, Matrix w2, float[] out) {
    }

    /**
     * Runs every call (a sparse layer's experts on this backend), adding to {@code nanos[i]} the compute time spent
     * on {@code calls.get(i)}, summed over the threads that worked on it. A backend that can run the calls side by
     * side, splitting each over its threads, overrides this; the default runs them one after the other.
     */
    default void feedForwardAll(List<FeedForward> calls, long[] nanos) {
        for (int i = 0; i < calls.size(); i++) {
            FeedForward c = calls.get(i);
            long start = System.nanoTime();
            feedForward(c.x(), c.n(), c.w1(), c.w2(), c.out());
            nanos[i] += System.nanoTime() - start;
        }
    }
}
