package dev.switchback.distill;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import ai.djl.ndarray.NDManager;
import dev.switchback.store.TensorNames;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.trainer.ModelPublisher;
import dev.switchback.trainer.model.Gpt;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LadderStudentTest {
    private static final int[] PROMPT = {3, 17, 42, 5, 9, 60, 1};

    @Test
    void aLadderTeacherGivesItsWholeSharedStackToASinglePassStudent() {
        try (NDManager m = NDManager.newBaseManager()) {
            ModelConfig ladder = Teachers.model(Teachers.ladderArch(), 64);
            ModelConfig dense = Teachers.model(new Architecture.Dense(), 64);
            Gpt teacher = Gpt.initialise(m, ladder, 0, 3, null);
            Gpt student = Gpt.initialise(m, dense, 0, 4, null);
            StudentInit.Summary summary = StudentInit.apply(teacher, student, FfnInit.MEAN);
            assertEquals(List.copyOf(student.parameters().all().keySet()), summary.copied(), "every tensor of the 2 blocks");
            assertEquals(List.of(), summary.fromExperts());
            assertEquals(List.of(), summary.random());

            // The student is the teacher's stack applied once: a 1-pass Ladder over the same tensors computes the same logits.
            Map<String, float[]> tensors = new HashMap<>();
            teacher.parameters().all().forEach((name, a) -> tensors.put(name, a.toFloatArray()));
            ModelConfig onePass = Teachers.model(new Architecture.Ladder(1, new Architecture.Dense()), 64);
            Gpt once = Gpt.fromTensors(m, onePass, 0, null, tensors);
            assertArrayEquals(ModelPublisher.lastLogits(once, PROMPT), ModelPublisher.lastLogits(student, PROMPT), 1e-5f);
            assertFalse(java.util.Arrays.equals(ModelPublisher.lastLogits(teacher, PROMPT), ModelPublisher.lastLogits(student, PROMPT)),
                    "two passes differ from one");
            assertArrayEquals(teacher.parameters().get(TensorNames.ffnW1(1)).toFloatArray(),
                    student.parameters().get(TensorNames.ffnW1(1)).toFloatArray());
        }
    }
}
