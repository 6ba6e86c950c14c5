package dev.switchback.distill;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.switchback.trainer.Objective;
import dev.switchback.trainer.data.BatchSampler;
import dev.switchback.trainer.model.Gpt;
import dev.switchback.trainer.model.Host;
import java.util.Map;

/**
 * The distillation objective: L = (1−α)·CE(y, q₁) + α·T²·CE(p_T, q_T), where y are the ground-truth next tokens,
 * p_T = softmax(z_teacher / T) and q_T = softmax(z_student / T) (q₁ the student at temperature 1), each averaged
 * over tokens. The soft term is a cross-entropy against the teacher's whole distribution, so it equals
 * KL(p_T ‖ q_T) plus the teacher's entropy, a constant that shifts the value but not the gradient.
 *
 * <p>Why T²: the soft term's gradient with respect to the student's logits is (q_T − p_T)/T, and at high T the
 * difference q_T − p_T itself shrinks as 1/T, so the gradient falls as 1/T² (Hinton et al. 2015, §2); multiplying
 * by T² keeps α meaning the same share of the gradient at every temperature. At T = 1 (the Switch paper's setting and our default) it changes nothing.
 *
 * <p>The teacher runs in inference mode: eval capacity, no dropout, and before the step records gradients, so its
 * forward pass builds no autograd graph and its weights never change.
 */
public final class DistillationLoss implements Objective {
    /** Metric name of the soft term (T²-scaled) in {@code metrics.jsonl}. */
    public static final String SOFT_CE = "soft_ce";

    private final Gpt teacher;
    private final double alpha;
    private final double temperature;

    public DistillationLoss(Gpt teacher, double alpha, double temperature) {
        checkAlpha(alpha);
        checkTemperature(temperature);
        this.teacher = teacher;
        this.alpha = alpha;
        this.temperature = temperature;
    }

    static void checkAlpha(double alpha) {
        if (!(alpha >= 0 && alpha <= 1)) {
            throw new IllegalArgumentException("--alpha: must be in [0, 1], got " + alpha);
        }
    }

    static void checkTemperature(double temperature) {
        if (!(temperature > 0 && Double.isFinite(temperature))) {
            throw new IllegalArgumentException("--temperature: must be > 0, got " + temperature);
        }
    }

    @Override
    public BatchLoss prepare(NDManager manager, BatchSampler.Batch batch) {
        if (alpha == 0) {
            // (1−0)·CE + 0·soft is the ground-truth loss: the teacher's pass would be wasted.
            return CROSS_ENTROPY.prepare(manager, batch);
        }
        NDArray teacherProbs = teacherProbabilities(manager, batch.inputs());
        return pass -> of(manager, pass.logits(), batch.targets(), teacherProbs);
    }

    /** softmax(z_teacher / T) over {@code inputs} ([B][S] ids) → [B, S, V], in inference mode. */
    NDArray teacherProbabilities(NDManager manager, int[][] inputs) {
        for (NDArray p : teacher.parameters().all().values()) {
            p.tempAttach(manager);
        }
        NDArray logits = teacher.forward(manager, inputs, false).logits();
        return scaled(logits, temperature).softmax(-1).stopGradient();
    }

    /** The loss of student logits [B, S, V] against ground truth [B][S] and teacher probabilities [B, S, V]. */
    public Loss of(NDManager manager, NDArray studentLogits, int[][] targets, NDArray teacherProbs) {
        NDArray ce = Gpt.crossEntropy(manager, studentLogits, targets);
        NDArray soft = softCrossEntropy(studentLogits, teacherProbs, temperature);
        NDArray total = ce.mul(Host.scalar(ce, 1 - alpha)).add(soft.mul(Host.scalar(soft, alpha)));
        return new Loss(total, ce, Map.of(SOFT_CE, soft));
    }

    /** T²·mean over tokens of −Σ_v p(v)·log softmax(z/T)(v). */
    public static NDArray softCrossEntropy(NDArray studentLogits, NDArray teacherProbs, double temperature) {
        NDArray logQ = scaled(studentLogits, temperature).logSoftmax(-1);
        NDArray ce = teacherProbs.mul(logQ).sum(new int[] {-1}).neg().mean();
        return temperature == 1 ? ce : ce.mul(Host.scalar(ce, temperature * temperature));
    }

    private static NDArray scaled(NDArray logits, double temperature) {
        return temperature == 1 ? logits : logits.div(Host.scalar(logits, temperature));
    }
}
