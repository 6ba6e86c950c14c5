package dev.switchback.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.store.model.Architecture;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {

    @Test
    void resumedRunRepeatsTheUninterruptedLossCurve(@TempDir Path dir) throws Exception {
        // Switch with dropout and expert dropout: the resumed run must redraw the same masks and batches.
        Architecture arch = new Architecture.Switch(4, 1, 1.0, 2.0, 0.01, 1e-3, 0.1, 0.2);
        double[] uninterrupted = new double[20];
        try (Trainer t = Fixtures.trainer(arch, 20, 0.1)) {
            for (int i = 0; i < 20; i++) {
                uninterrupted[i] = t.step().loss();
            }
        }
        Path saved;
        try (Trainer t = Fixtures.trainer(arch, 20, 0.1)) {
            for (int i = 0; i < 10; i++) {
                assertEquals(uninterrupted[i], t.step().loss(), 1e-6, "same seed, same curve at step " + (i + 1));
            }
            saved = Checkpoint.save(t, dir, 2);
        }
        try (Trainer resumed = Fixtures.trainer(arch, 20, 0.1)) {
            assertEquals(10, Checkpoint.restore(resumed, saved));
            for (int i = 10; i < 20; i++) {
                Trainer.StepResult r = resumed.step();
                assertEquals(i + 1, r.step());
                assertEquals(uninterrupted[i], r.loss(), 1e-5, "resumed loss at step " + (i + 1));
            }
        }
        assertEquals(saved, Checkpoint.latest(dir).orElseThrow());
    }

    @Test
    void keepsOnlyTheNewestCheckpointsAndNoTemporaryFolders(@TempDir Path dir) throws Exception {
        try (Trainer t = Fixtures.trainer(new Architecture.Dense(), 5, 0)) {
            for (int i = 0; i < 4; i++) {
                t.step();
                Checkpoint.save(t, dir, 2);
            }
        }
        try (var s = Files.list(dir)) {
            assertEquals(java.util.List.of("step-00000003", "step-00000004"),
                    s.map(p -> p.getFileName().toString()).sorted().toList());
        }
        assertTrue(Checkpoint.latest(dir).orElseThrow().endsWith("step-00000004"));
    }
}
