package dev.switchback.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A resumed run's metrics log keeps each step once: the steps logged after the last checkpoint go before it resumes. */
class TrainingLoopMetricsTest {
    @Test
    void stepsAfterTheCheckpointAndATornLineAreDropped(@TempDir Path dir) throws Exception {
        Path metrics = dir.resolve("metrics.jsonl");
        Files.write(metrics, List.of(
                "{\"step\":1,\"loss\":9.0}",
                "{\"step\":2,\"loss\":8.0,\"val_ppl\":100.0}",
                "{\"step\":3,\"loss\":7.0}",
                "{\"step\":4,\"loss\":6.5}",
                "{\"step\":5,\"lo"));
        TrainingLoop.dropStepsAfter(metrics, 2);
        assertEquals(List.of("{\"step\":1,\"loss\":9.0}", "{\"step\":2,\"loss\":8.0,\"val_ppl\":100.0}"), Files.readAllLines(metrics));
        assertFalse(Files.exists(dir.resolve("metrics.jsonl.tmp")), "the temporary file is moved into place");
    }

    @Test
    void aLogUpToTheCheckpointIsUnchangedAndAMissingOneStaysMissing(@TempDir Path dir) throws Exception {
        Path metrics = dir.resolve("metrics.jsonl");
        List<String> lines = List.of("{\"step\":1,\"loss\":9.0}", "{\"step\":2,\"loss\":8.0}");
        Files.write(metrics, lines);
        TrainingLoop.dropStepsAfter(metrics, 2);
        assertEquals(lines, Files.readAllLines(metrics));
        Path none = dir.resolve("none.jsonl");
        TrainingLoop.dropStepsAfter(none, 3);
        assertFalse(Files.exists(none));
    }
}
