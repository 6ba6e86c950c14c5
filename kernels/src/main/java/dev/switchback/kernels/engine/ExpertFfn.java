package dev.switchback.kernels.engine;

import dev.switchback.kernels.cpu.Parallel;
import dev.switchback.kernels.cpu.VectorKernels;
import dev.switchback.kernels.placement.LayerPlacement;
import dev.switchback.kernels.routing.ExpertStats;
import dev.switchback.kernels.routing.RoutePlan;
import dev.switchback.kernels.routing.TokenHashRouter;
import dev.switchback.kernels.routing.TopKRouter;
import dev.switchback.kernels.tensor.Matrix;
import java.util.ArrayList;
import java.util.List;

/**
 * A sparse layer's experts: the batch's tokens are routed (learned top-k or hash table), grouped per expert,
 * each expert runs once over its group on the backend its placement names, and the results are added back
 * to the residual scaled by their gates (y = Σ_j g_j·E_j(x)). A dropped assignment adds nothing, so its token
 * passes through the residual.
 */
final class ExpertFfn {
    private final int layer;
    private final Matrix router;
    private final TopKRouter topK;
    private final TokenHashRouter hash;
    private final Matrix[] w1;
    private final Matrix[] w2;

    ExpertFfn(int layer, Matrix router, TopKRouter topK, TokenHashRouter hash, Matrix[] w1, Matrix[] w2) {
        this.layer = layer;
        this.router = router;
        this.topK = topK;
        this.hash = hash;
        this.w1 = w1;
        this.w2 = w2;
    }

    /** Adds the experts' outputs for normalised x [tokens, d] into the residual stream {@code residual}. */
    void forward(Batch b, float[] x, float[] residual, Backend backend, ExpertPlacement placement, ExpertStats stats,
            Parallel parallel) {
        int n = b.tokens;
        int d = router != null ? router.cols() : w1[0].cols();
        RoutePlan plan;
        if (topK != null) {
            float[] logits = new float[n * topK.experts()];
            backend.linear(x, n, router, logits);
            plan = topK.route(logits, n);
        } else {
            plan = hash.route(b.ids, b.previous);
        }
        stats.record(layer, plan);
        // One piece of work per (expert, replica) with tokens: an expert on several backends splits its group.
        List<int[]> pieces = new ArrayList<>();
        long work = 0;
        for (int e = 0; e < w1.length; e++) {
            int count = plan.groupSize(e);
            if (count > 0) {
                int r = placement.replicas(layer, e).size();
                for (int i = 0; i < r; i++) {
                    int from = LayerPlacement.shareStart(count, r, i);
                    int to = LayerPlacement.shareStart(count, r, i + 1);
                    if (to > from) {
                        pieces.add(new int[] {e, i, from, to});
                    }
                }
                work += (long) count * w1[e].rows() * d * 2;
            }
        }
        float[][] outputs = new float[w1.length][];
        for (int e = 0; e < w1.length; e++) {
            if (plan.groupSize(e) > 0) {
                outputs[e] = new float[plan.groupSize(e) * d];
            }
        }
        // Experts run side by side, each on one thread: in decoding each gets a token or two, too little to split.
        parallel.forRange(pieces.size(), work / Math.max(1, pieces.size()), (from, to) -> {
            for (int i = from; i < to; i++) {
                int[] p = pieces.get(i);
                compute(p[0], placement.replicas(layer, p[0]).get(p[1]), p[2], p[3], plan, x, d, outputs[p[0]], stats);
            }
        });
        for (int e = 0; e < w1.length; e++) {
            for (int j = 0; j < plan.groupSize(e); j++) {
                int a = plan.assignment(e, j);
                VectorKernels.axpy(plan.gate(a), outputs[e], j * d, residual, (a / plan.k()) * d, d);
            }
        }
    }

    /** Group members {@code from … to−1} of expert {@code e} on {@code backend}, into their rows of {@code y}. */
    private void compute(int e, Backend backend, int from, int to, RoutePlan plan, float[] x, int d, float[] y, ExpertStats stats) {
        int count = to - from;
        float[] in = new float[count * d];
        for (int i = 0; i < count; i++) {
            int token = plan.assignment(e, from + i) / plan.k();
            System.arraycopy(x, token * d, in, i * d, d);
        }
        float[] out = new float[count * d];
        long start = System.nanoTime();
        backend.feedForward(in, count, w1[e], w2[e], out);
        stats.addComputeNanos(layer, e, System.nanoTime() - start);
        System.arraycopy(out, 0, y, from * d, count * d);
    }
}
