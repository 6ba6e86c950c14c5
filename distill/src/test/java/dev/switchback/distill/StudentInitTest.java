package dev.switchback.distill;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.switchback.store.TensorNames;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.trainer.model.Gpt;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class StudentInitTest {
    private static final int VOCAB = 64;
    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    static Architecture[] sparseTeachers() {
        return new Architecture[] {Teachers.switchArch(), Teachers.hashArch(), new Architecture.Ladder(2, Teachers.hashArch())};
    }

    private Gpt teacher(Architecture arch) {
        return Gpt.initialise(manager, Teachers.model(arch, VOCAB), 0, 1, Teachers.hashFor(arch, new int[] {1, 2, 3}, VOCAB));
    }

    private Gpt student(ModelConfig config) {
        return Gpt.initialise(manager, config, 0, 2, null);
    }

    private static float[] values(Gpt model, String name) {
        return model.parameters().get(name).toFloatArray();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("sparseTeachers")
    void copiesEveryMatchingTensorExactlyAndAveragesTheExperts(Architecture arch) {
        Gpt teacher = teacher(arch);
        Gpt student = student(Teachers.model(new Architecture.Dense(), VOCAB));
        StudentInit.Summary summary = StudentInit.apply(teacher, student, FfnInit.MEAN);

        // Block 0 is dense in the teacher (sparse every 2nd block): its FFN is copied like the rest.
        List<String> fromExperts = List.of(TensorNames.ffnW1(1), TensorNames.ffnW2(1));
        assertEquals(fromExperts, summary.fromExperts());
        assertEquals(List.of(), summary.random());
        assertEquals(student.parameters().all().size() - 2, summary.copied().size());
        for (String name : summary.copied()) {
            assertArrayEquals(values(teacher, name), values(student, name), name + " is copied exactly");
        }
        assertTrue(summary.copied().containsAll(List.of(TensorNames.TOK_EMB, TensorNames.FINAL_NORM, TensorNames.attnWq(1),
                TensorNames.attnNorm(1), TensorNames.ffnNorm(1), TensorNames.ffnW1(0), TensorNames.ffnW2(0))));
        int experts = arch.sparse().experts();
        for (String w : List.of("w1", "w2")) {
            float[] expected = new float[values(student, TensorNames.ffnW1(1)).length];
            double[] sum = new double[expected.length];
            for (int e = 0; e < experts; e++) {
                float[] x = values(teacher, w.equals("w1") ? TensorNames.expertW1(1, e) : TensorNames.expertW2(1, e));
                for (int i = 0; i < x.length; i++) {
                    sum[i] += x[i];
                }
            }
            for (int i = 0; i < expected.length; i++) {
                expected[i] = (float) (sum[i] / experts);
            }
            String name = w.equals("w1") ? TensorNames.ffnW1(1) : TensorNames.ffnW2(1);
            assertArrayEquals(expected, values(student, name), 1e-7f, name + " is the mean of the experts");
            assertFalse(Arrays.equals(values(teacher, w.equals("w1") ? TensorNames.expertW1(1, 0) : TensorNames.expertW2(1, 0)),
                    values(student, name)), "the experts differ, so their mean is not expert 0");
        }
    }

    @Test
    void expertZeroCopiesTheFirstExpert() {
        Gpt teacher = teacher(Teachers.switchArch());
        Gpt student = student(Teachers.model(new Architecture.Dense(), VOCAB));
        StudentInit.Summary summary = StudentInit.apply(teacher, student, FfnInit.EXPERT0);
        assertEquals(List.of(TensorNames.ffnW1(1), TensorNames.ffnW2(1)), summary.fromExperts());
        assertArrayEquals(values(teacher, TensorNames.expertW1(1, 0)), values(student, TensorNames.ffnW1(1)));
        assertArrayEquals(values(teacher, TensorNames.expertW2(1, 0)), values(student, TensorNames.ffnW2(1)));
    }

    @Test
    void tensorsWhoseShapeDiffersKeepTheirRandomInitialisation() {
        Gpt teacher = teacher(Teachers.switchArch());
        ModelConfig wider = new ModelConfig(VOCAB, 32, 3, 2, 96, 32, true, 10000, 1e-5, new Architecture.Dense());
        Gpt student = student(wider);
        Map<String, float[]> before = new java.util.HashMap<>();
        for (var e : student.parameters().all().entrySet()) {
            before.put(e.getKey(), e.getValue().toFloatArray());
        }
        StudentInit.Summary summary = StudentInit.apply(teacher, student, FfnInit.MEAN);
        // dFf 96 ≠ 64: no FFN fits; block 2 does not exist in the teacher.
        assertEquals(List.of(), summary.fromExperts());
        assertTrue(summary.random().containsAll(List.of(TensorNames.ffnW1(0), TensorNames.ffnW2(1), TensorNames.attnWq(2),
                TensorNames.ffnNorm(2))), summary.random().toString());
        for (String name : summary.random()) {
            assertArrayEquals(before.get(name), values(student, name), name + " untouched");
        }
        assertArrayEquals(values(teacher, TensorNames.attnWo(1)), values(student, TensorNames.attnWo(1)));
        assertEquals(student.parameters().all().size(), summary.copied().size() + summary.random().size());
    }

    @Test
    void theTeacherKeepsItsOwnArrays() {
        Gpt teacher = teacher(Teachers.switchArch());
        Gpt student = student(Teachers.model(new Architecture.Dense(), VOCAB));
        StudentInit.apply(teacher, student, FfnInit.MEAN);
        float[] original = values(teacher, TensorNames.TOK_EMB);
        NDArray studentEmb = student.parameters().get(TensorNames.TOK_EMB);
        studentEmb.set(new float[(int) studentEmb.size()]);
        assertArrayEquals(original, values(teacher, TensorNames.TOK_EMB), "writing the student leaves the teacher alone");
    }
}
