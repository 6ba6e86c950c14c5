package dev.switchback.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code bench matmul}: a row per format, shape and token count with positive rates; bad options in one line. */
class MatmulBenchTest {
    @Test
    void everyCombinationGetsARowWithPositiveRates() {
        CliRun run = CliRun.of("bench", "matmul", "--tokens", "1,5", "--shapes", "24x40,9x17", "--dtype", "F32,bf16", "--mb", "1",
                "--threads", "2", "--repeats", "2");
        assertEquals(0, run.exitCode(), run.err());
        List<String> rows = run.out().lines().filter(l -> l.startsWith("| F32 ") || l.startsWith("| BF16 ")).toList();
        assertEquals(2 * 2 * 2, rows.size(), run.out());
        for (String row : rows) {
            List<String> cells = List.of(row.substring(1, row.length() - 1).split("\\|")).stream().map(String::strip).toList();
            assertTrue(Integer.parseInt(cells.get(3)) >= 2, "1 MB of small matrices is many of them: " + row);
            for (int i = 4; i <= 6; i++) {
                assertTrue(Double.parseDouble(cells.get(i)) > 0, row);
            }
        }
        assertTrue(run.out().contains("2 kernel threads, 1 MB of weights cycled per pass, best of 2 passes"), run.out());
    }

    @Test
    void badOptionsAreOneLineErrors() {
        CliRun shape = CliRun.of("bench", "matmul", "--shapes", "512");
        assertEquals(2, shape.exitCode());
        assertEquals("error: --shapes: '512' is not ROWSxCOLS", shape.err().strip());
        CliRun tokens = CliRun.of("bench", "matmul", "--tokens", "0");
        assertEquals(2, tokens.exitCode());
        assertTrue(tokens.err().strip().startsWith("error: --tokens must be >= 1"), tokens.err());
        CliRun dtype = CliRun.of("bench", "matmul", "--dtype", "F16");
        assertEquals(2, dtype.exitCode());
        assertEquals("error: --dtype: F32 or BF16, got 'F16'", dtype.err().strip());
    }
}
