package dev.switchback.trainer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/** The state of one forward pass: where arrays live, train or eval mode, and the routing each sparse layer chose. */
public final class ForwardPass {
    private final NDManager manager;
    private final boolean training;
    private final Supplier<Routing> hashRouting;
    private final KvCache kvCache;
    private final List<LayerRouting> routings = new ArrayList<>();
    private Routing hashCache;
    private int ladderPass;
    private NDArray logits;

    /** One sparse layer's routing in one Ladder pass. */
    public record LayerRouting(int layer, int ladderPass, Routing routing) {}

    ForwardPass(NDManager manager, boolean training, Supplier<Routing> hashRouting) {
        this(manager, training, hashRouting, null);
    }

    /** A pass over new positions only, attending to those already in {@code kvCache} (inference). */
    ForwardPass(NDManager manager, boolean training, Supplier<Routing> hashRouting, KvCache kvCache) {
        this.manager = manager;
        this.training = training;
        this.hashRouting = hashRouting;
        this.kvCache = kvCache;
    }

    NDManager manager() {
        return manager;
    }

    boolean training() {
        return training;
    }

    /** The hash routing of this batch, computed once and shared by every hash layer and Ladder pass. */
    Routing hashRouting() {
        if (hashCache == null) {
            hashCache = hashRouting.get();
        }
        return hashCache;
    }

    /** The cache of earlier positions when decoding incrementally; null for a pass over whole sequences. */
    KvCache kvCache() {
        return kvCache;
    }

    int ladderPass() {
        return ladderPass;
    }

    void beginLadderPass(int p) {
        ladderPass = p;
    }

    void record(int layer, Routing routing) {
        routings.add(new LayerRouting(layer, ladderPass, routing));
    }

    void setLogits(NDArray logits) {
        this.logits = logits;
    }

    /** [B, S, vocab] next-token logits. */
    public NDArray logits() {
        return logits;
    }

    /** Every sparse layer's routing, in execution order. */
    public List<LayerRouting> routings() {
        return List.copyOf(routings);
    }

    /** Σ over sparse layers of the balancing loss plus {@code zLossCoef}·z-loss; 0 for dense and hash models. */
    public NDArray auxiliaryLoss(double zLossCoef) {
        NDArray total = manager.zeros(new ai.djl.ndarray.types.Shape());
        for (LayerRouting lr : routings) {
            Routing r = lr.routing();
            if (r.balanceLoss() != null) {
                total = total.add(r.balanceLoss());
            }
            if (r.zLoss() != null && zLossCoef > 0) {
                total = total.add(r.zLoss().mul(Host.scalar(r.zLoss(), zLossCoef)));
            }
        }
        return total;
    }
}
