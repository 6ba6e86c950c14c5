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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A sparse layer's experts: the batch's tokens are routed (learned top-k or hash table), grouped per expert,
 * each expert runs once over its group on the backend its placement names (a backend runs all its experts of the
 * layer in one {@link Backend#feedForwardAll} call), and the results are added back
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
        // One call per (expert, replica) with tokens, in expert order: an expert on several backends splits its group.
        List<int[]> pieces = new ArrayList<>();
        List<Backend.FeedForward> calls = new ArrayList<>();
        Map<Backend, List<Integer>> byBackend = new LinkedHashMap<>();
        for (int e = 0; e < w1.length; e++) {
            int count = plan.groupSize(e);
            List<Backend> replicas = count > 0 ? placement.replicas(layer, e) : List.of();
            for (int i = 0; i < replicas.size(); i++) {
                int from = LayerPlacement.shareStart(count, replicas.size(), i);
                int to = LayerPlacement.shareStart(count, replicas.size(), i + 1);
                if (to > from) {
                    float[] in = new float[(to - from) * d];
                    for (int j = from; j < to; j++) {
                        System.arraycopy(x, plan.assignment(e, j) / plan.k() * d, in, (j - from) * d, d);
                    }
                    byBackend.computeIfAbsent(replicas.get(i), k -> new ArrayList<>()).add(calls.size());
                    pieces.add(new int[] {e, from, to});
                    calls.add(new Backend.FeedForward(in, to - from, w1[e], w2[e], new float[(to - from) * d]));
                }
            }
        }
        long[] nanos = new long[calls.size()];
        List<Map.Entry<Backend, List<Integer>>> groups = List.copyOf(byBackend.entrySet());
        // Each backend runs its experts side by side over its own threads; several backends run at once.
        parallel.forRange(groups.size(), Long.MAX_VALUE / Math.max(1, groups.size()), (from, to) -> {
            for (int g = from; g < to; g++) {
                List<Integer> mine = groups.get(g).getValue();
                long[] own = new long[mine.size()];
                groups.get(g).getKey().feedForwardAll(mine.stream().map(calls::get).toList(), own);
                for (int i = 0; i < mine.size(); i++) {
                    nanos[mine.get(i)] = own[i];
                }
            }
        });
        for (int c = 0; c < calls.size(); c++) {
            int[] p = pieces.get(c);
            stats.addComputeNanos(layer, p[0], nanos[c]);
            float[] out = calls.get(c).out();
            for (int j = p[1]; j < p[2]; j++) {
                int a = plan.assignment(p[0], j);
                VectorKernels.axpy(plan.gate(a), out, (j - p[1]) * d, residual, (a / plan.k()) * d, d);
            }
        }
    }
}
