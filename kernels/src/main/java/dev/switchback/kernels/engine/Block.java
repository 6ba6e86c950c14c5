package dev.switchback.kernels.engine;

import dev.switchback.kernels.cpu.Parallel;
import dev.switchback.kernels.cpu.VectorKernels;
import dev.switchback.kernels.routing.ExpertStats;
import dev.switchback.kernels.tensor.Matrix;

/** A pre-norm Transformer block: h = x + Attn(norm(x)); y = h + FFN(norm(h)), the FFN dense or experts. */
final class Block {
    private final float[] attnNorm;
    private final Attention attention;
    private final float[] ffnNorm;
    private final Matrix denseW1;
    private final Matrix denseW2;
    private final ExpertFfn experts;
    private final float eps;

    Block(float[] attnNorm, Attention attention, float[] ffnNorm, Matrix denseW1, Matrix denseW2, ExpertFfn experts, float eps) {
        this.attnNorm = attnNorm;
        this.attention = attention;
        this.ffnNorm = ffnNorm;
        this.denseW1 = denseW1;
        this.denseW2 = denseW2;
        this.experts = experts;
        this.eps = eps;
    }

    /** Updates the residual stream x [tokens, d] in place. */
    void forward(Batch b, float[] x, int slot, Engine.Context ctx) {
        int d = attnNorm.length;
        float[] n = norm(x, attnNorm, b.tokens, d, ctx.parallel());
        float[] a = attention.forward(b, n, slot, ctx.backend(), ctx.parallel());
        VectorKernels.axpy(1f, a, 0, x, 0, x.length);
        n = norm(x, ffnNorm, b.tokens, d, ctx.parallel());
        if (experts != null) {
            experts.forward(b, n, x, ctx.backend(), ctx.placement(), ctx.stats(), ctx.parallel());
        } else {
            float[] f = new float[x.length];
            ctx.backend().feedForward(n, b.tokens, denseW1, denseW2, f);
            VectorKernels.axpy(1f, f, 0, x, 0, x.length);
        }
    }

    private float[] norm(float[] x, float[] gain, int tokens, int d, Parallel parallel) {
        float[] out = new float[x.length];
        parallel.forRange(tokens, 2L * d, (from, to) -> {
            for (int t = from; t < to; t++) {
                VectorKernels.rmsNorm(x, t * d, gain, eps, out, t * d, d);
            }
        });
        return out;
    }

    /** RMSNorm of each row, shared with the final norm. */
    static void normRows(float[] x, int[] rows, float[] gain, float eps, float[] out, int d) {
        for (int i = 0; i < rows.length; i++) {
            VectorKernels.rmsNorm(x, rows[i] * d, gain, eps, out, i * d, d);
        }
    }
}
