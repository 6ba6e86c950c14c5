package dev.switchback.trainer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.switchback.trainer.data.BatchSampler;
import dev.switchback.trainer.model.ForwardPass;
import dev.switchback.trainer.model.Gpt;
import java.util.Map;

/**
 * What a training step minimises besides the routing losses: {@link #CROSS_ENTROPY} for ordinary training, a
 * teacher-and-ground-truth mix for distillation.
 */
@FunctionalInterface
public interface Objective {
    /** Next-token cross-entropy against the batch's targets. */
    Objective CROSS_ENTROPY = (manager, batch) -> pass -> {
        NDArray ce = Gpt.crossEntropy(manager, pass.logits(), batch.targets());
        return new Loss(ce, ce, Map.of());
    };

    /**
     * Prepares one batch's loss. This runs before gradients are recorded, so what it computes (a frozen teacher's
     * forward pass) builds no autograd graph; the function it returns runs on the model's pass while they are.
     *
     * @param manager the step's manager: arrays created here are freed after the step
     */
    BatchLoss prepare(NDManager manager, BatchSampler.Batch batch);

    /** The loss of one batch from the trained model's forward pass over it. */
    @FunctionalInterface
    interface BatchLoss {
        Loss of(ForwardPass pass);
    }

    /**
     * One batch's loss.
     *
     * @param objective the scalar minimised (the routing losses are added to it)
     * @param crossEntropy the ground-truth next-token cross-entropy, reported for every objective
     * @param terms further scalars to report, by metric name
     */
    record Loss(NDArray objective, NDArray crossEntropy, Map<String, NDArray> terms) {}
}
