package dev.switchback.kernels.engine;

import dev.switchback.kernels.cpu.Parallel;
import dev.switchback.kernels.cpu.VectorKernels;
import dev.switchback.kernels.tensor.Matrix;

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
        float[] hidden = new float[n * w1.rows()];
        VectorKernels.matmul(x, n, w1, hidden, parallel);
        VectorKernels.gelu(hidden, 0, hidden.length);
        VectorKernels.matmul(hidden, n, w2, out, parallel);
    }

    public Parallel parallel() {
        return parallel;
    }
}
