package dev.switchback.trainer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * A sparse layer's experts: tokens are grouped per expert, each expert runs once over its group, and the
 * results are scattered back, scaled by their gates (y = Σ_j g_j·E_j(x)); an assignment dropped for capacity
 * contributes nothing, so its token passes through the residual.
 */
final class ExpertFfn {
    private final FeedForward[] experts;
    private final Router router;

    /** @param router the learned router, or null when routing comes from the hash table */
    ExpertFfn(FeedForward[] experts, Router router) {
        this.experts = experts;
        this.router = router;
    }

    /** x: [B, S, d] → [B, S, d], recording the routing in {@code pass}. */
    NDArray forward(NDArray x, int layer, ForwardPass pass) {
        Shape shape = x.getShape();
        int tokens = (int) (shape.get(0) * shape.get(1));
        long d = shape.get(2);
        NDArray flat = x.reshape(tokens, d);
        Routing routing = router != null ? router.route(flat, pass.manager(), pass.training()) : pass.hashRouting();
        pass.record(layer, routing);
        return combine(flat, routing, pass).reshape(shape);
    }

    private NDArray combine(NDArray x, Routing r, ForwardPass pass) {
        NDManager m = pass.manager();
        int k = r.k();
        int tokens = r.tokens();
        int[] count = new int[experts.length];
        for (int a = 0; a < r.expert().length; a++) {
            if (r.plan().kept()[a]) {
                count[r.expert()[a]]++;
            }
        }
        long[][] tokenIdx = new long[experts.length][];
        long[][] assignIdx = new long[experts.length][];
        int[] start = new int[experts.length];
        int rows = 0;
        for (int e = 0; e < experts.length; e++) {
            tokenIdx[e] = new long[count[e]];
            assignIdx[e] = new long[count[e]];
            start[e] = rows;
            rows += count[e];
        }
        int zeroRow = rows;
        long[] rowOf = new long[r.expert().length];
        int[] fill = new int[experts.length];
        for (int a = 0; a < rowOf.length; a++) {
            if (!r.plan().kept()[a]) {
                rowOf[a] = zeroRow;
                continue;
            }
            int e = r.expert()[a];
            tokenIdx[e][fill[e]] = a / k;
            assignIdx[e][fill[e]] = a;
            rowOf[a] = start[e] + fill[e]++;
        }
        NDList parts = new NDList();
        for (int e = 0; e < experts.length; e++) {
            if (count[e] == 0) {
                continue;
            }
            NDArray y = experts[e].forward(x.get(Host.longs(m, tokenIdx[e], new Shape(count[e]))), pass.training());
            if (r.gates() != null) {
                y = y.mul(r.gates().get(Host.longs(m, assignIdx[e], new Shape(count[e]))).expandDims(1));
            }
            parts.add(y);
        }
        parts.add(m.zeros(new Shape(1, x.getShape().get(1))));
        NDArray all = NDArrays.concat(parts, 0);
        NDArray rowIndex = Host.longs(m, rowOf, new Shape(tokens, k));
        NDArray out = all.get(rowIndex.get(":, 0"));
        for (int j = 1; j < k; j++) {
            out = out.add(all.get(rowIndex.get(":, " + j)));
        }
        return out;
    }
}
