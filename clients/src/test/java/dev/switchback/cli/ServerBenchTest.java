package dev.switchback.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.store.ModelFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code bench server} over a random-weight model of a config: it serves, measures and reports all three runs. */
class ServerBenchTest {
    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    private static final Path TOKENIZER = ROOT.resolve(Defaults.BUNDLED_STORE).resolve("switch-kjv/1").resolve(ModelFiles.TOKENIZER);

    @Test
    void aConfigIsServedWithRandomWeightsAndEveryRowIsMeasured(@TempDir Path dir) throws Exception {
        String config = Files.readString(ROOT.resolve("trainer/configs/switch-kjv.json"))
                .replace("\"dModel\": 128", "\"dModel\": 32").replace("\"dFf\": 512", "\"dFf\": 64").replace("\"layers\": 4", "\"layers\": 2");
        Path file = dir.resolve("small.json");
        Files.writeString(file, config);
        CliRun run = CliRun.of("bench", "server", "--config", file.toString(), "--tokenizer", TOKENIZER.toString(), "--dtype", "BF16",
                "--streams", "3", "--max-tokens", "5", "--rounds", "1", "--warmup", "1", "--client", "raw");
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("model small-random-bf16, 3 streams, up to 5 tokens each"), run.out());
        for (String row : new String[] {"3 sequential HTTP+SSE requests", "3 concurrent HTTP+SSE streams", "3 concurrent in-process generations"}) {
            Matcher m = Pattern.compile("\\| " + Pattern.quote(row) + " \\| ([0-9.]+) \\|").matcher(run.out());
            assertTrue(m.find(), row + " missing: " + run.out());
            assertTrue(Double.parseDouble(m.group(1)) > 0, row);
        }
    }

    @Test
    void aModelOrAConfigNotBoth() {
        CliRun both = CliRun.of("bench", "server", "--model", "m", "--config", "c.json");
        assertEquals(2, both.exitCode());
        assertEquals("error: give exactly one of --model NAME or --config FILE", both.err().strip());
        CliRun dtype = CliRun.of("bench", "server", "--config", "c.json", "--dtype", "I32");
        assertEquals("error: --dtype must be F32 or BF16, got I32", dtype.err().strip());
        CliRun kv = CliRun.of("bench", "server", "--config", "c.json", "--kv-cache-dtype", "fp8");
        assertEquals("error: KV cache dtype must be f32 or bf16, got 'fp8'", kv.err().strip());
        CliRun device = CliRun.of("bench", "server", "--config", "c.json", "--device", "tpu");
        assertEquals("error: --device must be cpu or cuda:N, got 'tpu'", device.err().strip());
        if (dev.switchback.kernels.cuda.Cudart.unavailableReason() != null) {
            CliRun noGpu = CliRun.of("bench", "server", "--config", "c.json", "--device", "cuda:0");
            assertEquals(2, noGpu.exitCode());
            assertEquals("error: --device cuda:0: " + dev.switchback.kernels.cuda.Cudart.unavailableReason(), noGpu.err().strip());
        }
    }
}
