package dev.switchback.kernels.engine;

import dev.switchback.kernels.cpu.Parallel;
import dev.switchback.kernels.cpu.VectorKernels;
import dev.switchback.kernels.tensor.Matrix;
import java.util.List;

/** The {@link Backend} on this machine's cores: Vector API kernels split over a {@link Parallel} pool. */
public final class CpuBackend implements Backend {
    private final Parallel parallel;
    private final String device;

    public CpuBackend(Parallel parallel) {
        this(parallel, "cpu");
    }

    /** A backend with its own device name, e.g. one of several CPU thread groups holding experts. */
    public CpuBackend(Parallel parallel, String device) {
        this.parallel = parallel;
        this.device = device;
    }

    @Override
    public String device() {
        return device;
    }

    @Override
    public void linear(float[] x, int n, Matrix w, float[] y) {
        VectorKernels.matmul(x, n, w, y, parallel);
    }

    @Override
    public void feedForward(float[] x, int n, Matrix w1, Matrix w2, float[] out) {
        feedForwardAll(List.of(new FeedForward(x, n, w1, w2, out)), new long[1]);
    }

    /**
     * Two passes over all calls: hidden = GELU(x·W₁ᵀ), then out = hidden·W₂ᵀ. Each pass cuts every call's weight
     * rows into pieces of about {@link #PIECE_FLOATS} weights and spreads all pieces over the pool, so a layer whose
     * experts get a token or two each still keeps every thread streaming weights (one expert per thread would leave
     * threads idle when there are more threads than experts, and read each expert at one core's bandwidth). The
     * GELU is applied by the thread that computed the rows.
     */
    @Override
    public void feedForwardAll(List<FeedForward> calls, long[] nanos) {
        float[][] hidden = new float[calls.size()][];
        for (int i = 0; i < calls.size(); i++) {
            FeedForward c = calls.get(i);
            hidden[i] = new float[c.n() * c.w1().rows()];
        }
        pass(calls, true, hidden, nanos);
        pass(calls, false, hidden, nanos);
    }

    /** Weights per piece of a pass: small enough to share a few experts among many threads, large enough to stream. */
    static final int PIECE_FLOATS = 16_384;

    private void pass(List<FeedForward> calls, boolean first, float[][] hidden, long[] nanos) {
        int pieces = 0;
        long work = 0;
        int[] rowsPer = new int[calls.size()];
        for (int i = 0; i < calls.size(); i++) {
            FeedForward c = calls.get(i);
            Matrix w = first ? c.w1() : c.w2();
            if (c.n() > 0) {
                rowsPer[i] = Math.max(1, PIECE_FLOATS / w.cols() / VectorKernels.ROW_BLOCK) * VectorKernels.ROW_BLOCK;
                pieces += (w.rows() + rowsPer[i] - 1) / rowsPer[i];
                work += (long) c.n() * w.rows() * w.cols();
            }
        }
        if (pieces == 0) {
            return;
        }
        int[] call = new int[pieces];
        int[] from = new int[pieces];
        int p = 0;
        for (int i = 0; i < calls.size(); i++) {
            FeedForward c = calls.get(i);
            int rows = (first ? c.w1() : c.w2()).rows();
            for (int r = 0; c.n() > 0 && r < rows; r += rowsPer[i]) {
                call[p] = i;
                from[p++] = r;
            }
        }
        long[] pieceNanos = new long[pieces];
        parallel.forRange(pieces, work / pieces, (lo, hi) -> {
            for (int q = lo; q < hi; q++) {
                long start = System.nanoTime();
                FeedForward c = calls.get(call[q]);
                float[] h = hidden[call[q]];
                Matrix w = first ? c.w1() : c.w2();
                int to = Math.min(w.rows(), from[q] + rowsPer[call[q]]);
                if (first) {
                    VectorKernels.matmulRows(c.x(), c.n(), w, h, from[q], to);
                    for (int t = 0; t < c.n(); t++) {
                        VectorKernels.gelu(h, t * w.rows() + from[q], to - from[q]);
                    }
                } else {
                    VectorKernels.matmulRows(h, c.n(), w, c.out(), from[q], to);
                }
                pieceNanos[q] = System.nanoTime() - start;
            }
        });
        for (int q = 0; q < pieces; q++) {
            nanos[call[q]] += pieceNanos[q];
        }
    }

    public Parallel parallel() {
        return parallel;
    }
}
