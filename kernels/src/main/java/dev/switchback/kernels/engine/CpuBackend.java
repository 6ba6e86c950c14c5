package dev.switchback.kernels.engine;

import dev.switchback.kernels.cpu.Parallel;
import dev.switchback.kernels.cpu.VectorKernels;
import dev.switchback.kernels.tensor.Matrix;
import java.util.ArrayList;
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

    /** All products in one parallel call, their weight rows cut into pieces spread over the pool. */
    @Override
    public void linearAll(float[] x, int n, List<Matrix> ws, List<float[]> ys) {
        List<Product> products = new ArrayList<>(ws.size());
        for (int i = 0; i < ws.size(); i++) {
            products.add(new Product(x, n, ws.get(i), ys.get(i), false));
        }
        run(products, new long[products.size()]);
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
        List<Product> first = new ArrayList<>(calls.size());
        List<Product> second = new ArrayList<>(calls.size());
        for (FeedForward c : calls) {
            float[] hidden = new float[c.n() * c.w1().rows()];
            first.add(new Product(c.x(), c.n(), c.w1(), hidden, true));
            second.add(new Product(hidden, c.n(), c.w2(), c.out(), false));
        }
        run(first, nanos);
        run(second, nanos);
    }

    /** Weights per piece: small enough to share a few matrices among many threads, large enough to stream. */
    static final int PIECE_FLOATS = 16_384;

    /** y[n, w.rows] = x·Wᵀ, then GELU in place when {@code gelu}. */
    private record Product(float[] x, int n, Matrix w, float[] y, boolean gelu) {
    }

    /** Runs every product in one parallel call, adding each one's compute time (over all threads) to nanos[i]. */
    private void run(List<Product> products, long[] nanos) {
        int pieces = 0;
        long work = 0;
        int[] rowsPer = new int[products.size()];
        for (int i = 0; i < products.size(); i++) {
            Product c = products.get(i);
            if (c.n() > 0) {
                rowsPer[i] = Math.max(1, PIECE_FLOATS / c.w().cols() / VectorKernels.ROW_BLOCK) * VectorKernels.ROW_BLOCK;
                pieces += (c.w().rows() + rowsPer[i] - 1) / rowsPer[i];
                work += (long) c.n() * c.w().rows() * c.w().cols();
            }
        }
        if (pieces == 0) {
            return;
        }
        int[] product = new int[pieces];
        int[] from = new int[pieces];
        int p = 0;
        for (int i = 0; i < products.size(); i++) {
            for (int r = 0; products.get(i).n() > 0 && r < products.get(i).w().rows(); r += rowsPer[i]) {
                product[p] = i;
                from[p++] = r;
            }
        }
        long[] pieceNanos = new long[pieces];
        parallel.forRange(pieces, work / pieces, (lo, hi) -> {
            for (int q = lo; q < hi; q++) {
                long start = System.nanoTime();
                Product c = products.get(product[q]);
                int rows = c.w().rows();
                int to = Math.min(rows, from[q] + rowsPer[product[q]]);
                VectorKernels.matmulRows(c.x(), c.n(), c.w(), c.y(), from[q], to);
                if (c.gelu()) {
                    for (int t = 0; t < c.n(); t++) {
                        VectorKernels.gelu(c.y(), t * rows + from[q], to - from[q]);
                    }
                }
                pieceNanos[q] = System.nanoTime() - start;
            }
        });
        for (int q = 0; q < pieces; q++) {
            nanos[product[q]] += pieceNanos[q];
        }
    }

    public Parallel parallel() {
        return parallel;
    }
}
