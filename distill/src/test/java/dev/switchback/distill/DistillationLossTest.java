package dev.switchback.distill;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.switchback.store.model.Architecture;
import dev.switchback.trainer.Objective;
import dev.switchback.trainer.TrainConfig;
import dev.switchback.trainer.Trainer;
import dev.switchback.trainer.data.BatchSampler;
import dev.switchback.trainer.data.TokenData;
import dev.switchback.trainer.model.Gpt;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class DistillationLossTest {
    // One sequence of two positions over a 3-token vocabulary.
    private static final float[] STUDENT = {1.0f, 2.0f, 0.5f, 0.0f, -1.0f, 2.0f};
    private static final float[] TEACHER = {0.2f, 0.5f, 0.3f, 0.1f, 0.1f, 0.8f};
    private static final int[][] TARGETS = {{1, 2}};

    /** log softmax(z/T) of one row, in double. */
    private static double[] logSoftmax(float[] z, int row, double t) {
        double max = Double.NEGATIVE_INFINITY;
        for (int v = 0; v < 3; v++) {
            max = Math.max(max, z[row * 3 + v] / t);
        }
        double sum = 0;
        for (int v = 0; v < 3; v++) {
            sum += Math.exp(z[row * 3 + v] / t - max);
        }
        double[] out = new double[3];
        for (int v = 0; v < 3; v++) {
            out[v] = z[row * 3 + v] / t - max - Math.log(sum);
        }
        return out;
    }

    /** (1−α)·CE + α·T²·softCE, written out by hand. */
    private static double expected(double alpha, double t) {
        double ce = 0;
        double soft = 0;
        for (int row = 0; row < 2; row++) {
            ce -= logSoftmax(STUDENT, row, 1)[TARGETS[0][row]];
            double[] logQ = logSoftmax(STUDENT, row, t);
            for (int v = 0; v < 3; v++) {
                soft -= TEACHER[row * 3 + v] * logQ[v];
            }
        }
        return (1 - alpha) * ce / 2 + alpha * t * t * soft / 2;
    }

    private static Objective.Loss loss(NDManager m, double alpha, double t) {
        NDArray student = m.create(STUDENT, new Shape(1, 2, 3));
        NDArray teacher = m.create(TEACHER, new Shape(1, 2, 3));
        return new DistillationLoss(null, alpha, t).of(m, student, TARGETS, teacher);
    }

    @Test
    void equalsTheHandComputedMix() {
        try (NDManager m = NDManager.newBaseManager()) {
            // Reference values worked out separately (Python, float64, exact decimal teacher probabilities).
            assertEquals(0.3171074018321153, expected(0, 1), 1e-7, "CE");
            assertEquals(0.4608574018321153, expected(0.25, 1), 1e-7, "0.75·CE + 0.25·soft at T = 1");
            assertEquals(1.9297600518184026, expected(0.5, 2), 1e-7, "0.5·CE + 0.5·4·soft at T = 2");
            for (double[] at : new double[][] {{0.25, 1}, {0.5, 2}, {1, 0.5}, {0.9, 3}}) {
                Objective.Loss l = loss(m, at[0], at[1]);
                assertEquals(expected(at[0], at[1]), l.objective().getFloat(), 1e-5, "alpha " + at[0] + ", T " + at[1]);
                assertEquals(expected(0, 1), l.crossEntropy().getFloat(), 1e-6, "ground-truth CE is reported as is");
                assertEquals(expected(1, at[1]), l.terms().get(DistillationLoss.SOFT_CE).getFloat(), 1e-5, "soft term, T²-scaled");
            }
        }
    }

    @Test
    void alphaZeroIsPlainCrossEntropy() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray student = m.create(STUDENT, new Shape(1, 2, 3));
            float ce = Gpt.crossEntropy(m, student, TARGETS).getFloat();
            assertEquals(ce, loss(m, 0, 1).objective().getFloat(), 0f);
            assertEquals(ce, loss(m, 0, 4).objective().getFloat(), 0f, "T does not matter at alpha 0");
        }
    }

    @Test
    void softTermOfTheTeachersOwnDistributionIsItsEntropy() {
        try (NDManager m = NDManager.newBaseManager()) {
            // Student logits = log p: the soft cross-entropy is H(p), its minimum over students.
            float[] logP = new float[TEACHER.length];
            double entropy = 0;
            for (int i = 0; i < logP.length; i++) {
                logP[i] = (float) Math.log(TEACHER[i]);
                entropy -= TEACHER[i] * Math.log(TEACHER[i]);
            }
            NDArray soft = DistillationLoss.softCrossEntropy(m.create(logP, new Shape(1, 2, 3)), m.create(TEACHER, new Shape(1, 2, 3)), 1);
            assertEquals(entropy / 2, soft.getFloat(), 1e-6);
        }
    }

    @Test
    void rejectsAlphaOutsideTheUnitIntervalAndNonPositiveTemperature() {
        assertEquals("--alpha: must be in [0, 1], got 1.5",
                assertThrows(IllegalArgumentException.class, () -> new DistillationLoss(null, 1.5, 1)).getMessage());
        assertEquals("--alpha: must be in [0, 1], got -0.1",
                assertThrows(IllegalArgumentException.class, () -> new DistillationLoss(null, -0.1, 1)).getMessage());
        assertEquals("--temperature: must be > 0, got 0.0",
                assertThrows(IllegalArgumentException.class, () -> new DistillationLoss(null, 0.5, 0)).getMessage());
        assertEquals("--temperature: must be > 0, got NaN",
                assertThrows(IllegalArgumentException.class, () -> new DistillationLoss(null, 0.5, Double.NaN)).getMessage());
    }

    static Architecture[] teachers() {
        return new Architecture[] {Teachers.switchArch(), Teachers.ladderArch(), new Architecture.Ladder(2, Teachers.hashArch())};
    }

    /** KL(teacher ‖ student) at T = 1 on a fixed validation batch: the soft cross-entropy less the teacher's entropy. */
    private static double divergence(Gpt student, DistillationLoss loss, BatchSampler.Batch batch) {
        try (NDManager m = student.parameters().manager().newSubManager()) {
            for (NDArray p : student.parameters().all().values()) {
                p.tempAttach(m);
            }
            NDArray probs = loss.teacherProbabilities(m, batch.inputs());
            NDArray entropy = probs.mul(probs.add(1e-12f).log()).sum(new int[] {-1}).neg().mean();
            NDArray soft = DistillationLoss.softCrossEntropy(student.forward(m, batch.inputs(), false).logits(), probs, 1);
            return soft.getFloat() - entropy.getFloat();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("teachers")
    void theTeacherIsFrozenAndTheStudentLearnsItsDistribution(Architecture arch) {
        TokenData data = Teachers.syntheticData(64);
        TrainConfig teacherConfig = new TrainConfig("teacher", Teachers.model(arch, 64), Teachers.training(60),
                new TrainConfig.Data("unused", null, 64));
        TrainConfig studentConfig = new TrainConfig("student", Teachers.model(new Architecture.Dense(), 64), Teachers.training(40),
                new TrainConfig.Data("unused", null, 64));
        BatchSampler.Batch batch = BatchSampler.evaluationBatches(data.validation(), 8, 32, 0).getFirst();
        try (Trainer teacher = new Trainer(teacherConfig, data, Teachers.hashFor(arch, data.train(), 64));
                Trainer student = new Trainer(studentConfig, data, null)) {
            for (int i = 0; i < 60; i++) {
                teacher.step();
            }
            Map<String, float[]> frozen = new HashMap<>();
            teacher.model().parameters().all().forEach((name, a) -> frozen.put(name, a.toFloatArray()));
            DistillationLoss loss = new DistillationLoss(teacher.model(), 1.0, 1.0);
            double before = divergence(student.model(), loss, batch);
            for (int i = 0; i < 40; i++) {
                Trainer.StepResult r = student.step(loss);
                assertTrue(Double.isFinite(r.loss()) && r.terms().containsKey(DistillationLoss.SOFT_CE));
            }
            double after = divergence(student.model(), loss, batch);
            assertTrue(after < 0.5 * before, "KL(teacher || student) halves at least: " + before + " -> " + after);
            assertEquals(1, student.model().config().architecture().passes(), "the student makes one pass");
            teacher.model().parameters().all().forEach((name, a) -> assertArrayEquals(frozen.get(name), a.toFloatArray(), name));
        }
    }
}
