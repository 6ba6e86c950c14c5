package dev.switchback.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.switchback.kernels.cuda.Cudart;
import dev.switchback.store.ModelStore;
import dev.switchback.store.TinyModels;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code serve --device}: a GPU that cannot be used is one line at start-up, before any model loads. */
class ServeDeviceTest {
    @Test
    void cudaWithoutAUsableGpuIsOneLine(@TempDir Path dir) throws Exception {
        assumeTrue(Cudart.unavailableReason() != null, "this host has a usable GPU");
        TinyModels.publishServable(new ModelStore(dir), "tiny", 1);
        CliRun run = CliRun.of("serve", "--store", dir.toString(), "--device", "cuda", "--port", "0", "--grpc-port", "-1");
        assertEquals(2, run.exitCode(), run.err());
        assertTrue(run.err().startsWith("error: --device cuda: "), run.err());
        assertTrue(run.err().contains("--device cpu still works"), run.err());
        assertEquals(1, run.err().strip().lines().count(), "one line: " + run.err());
        assertFalse(run.out().contains("loading"), "nothing was loaded");
    }

    @Test
    void badDeviceFlagsAreOneLine(@TempDir Path dir) throws Exception {
        TinyModels.publishServable(new ModelStore(dir), "tiny", 1);
        CliRun tpu = CliRun.of("serve", "--store", dir.toString(), "--device", "tpu", "--port", "0");
        assertEquals(2, tpu.exitCode());
        assertEquals("error: --device must be cpu or cuda, got 'tpu'", tpu.err().strip());
        CliRun twice = CliRun.of("serve", "--store", dir.toString(), "--device", "cuda", "--gpus", "0,1,0", "--port", "0");
        assertEquals(2, twice.exitCode());
        assertEquals("error: --gpus lists device 0 twice", twice.err().strip());
        CliRun word = CliRun.of("serve", "--store", dir.toString(), "--device", "cuda", "--gpus", "0,x", "--port", "0");
        assertEquals("error: --gpus must be device numbers separated by commas, got '0,x'", word.err().strip());
        Path missing = dir.resolve("no-such-text.txt");
        CliRun noText = CliRun.of("serve", "--store", dir.toString(), "--device", "cuda", "--gpus", "0,1", "--expert-placement",
                "static-balanced", "--placement-text", missing.toString(), "--port", "0");
        assertEquals(2, noText.exitCode());
        assertEquals("error: --placement-text: file does not exist: " + missing, noText.err().strip());
        CliRun noTokens = CliRun.of("serve", "--store", dir.toString(), "--device", "cuda", "--gpus", "0,1", "--expert-placement",
                "load", "--placement-tokens", "0", "--port", "0");
        assertEquals("error: --placement-tokens must be >= 1, got 0", noTokens.err().strip());
        CliRun oneDevice = CliRun.of("serve", "--store", dir.toString(), "--expert-placement", "round-robin", "--port", "0");
        assertEquals("error: --expert-placement places experts over several GPUs: give --device cuda --gpus N,M,... or"
                + " --shard-worker", oneDevice.err().strip());
        CliRun unknown = CliRun.of("serve", "--store", dir.toString(), "--expert-placement", "diagonal", "--port", "0");
        assertEquals("error: --expert-placement must be contiguous, round-robin, load or static-balanced, got 'diagonal'",
                unknown.err().strip());
        CliRun workerOnCpu = CliRun.of("serve", "--store", dir.toString(), "--shard-worker", "127.0.0.1:9300@1", "--port", "0");
        assertEquals(2, workerOnCpu.exitCode());
        assertEquals("error: --shard-worker holds a GPU rank of a sharded model: give --device cuda", workerOnCpu.err().strip());
        for (String bad : List.of("127.0.0.1:9300", "127.0.0.1@1", "127.0.0.1:9300@x", "127.0.0.1:9300@-1", ":9300@1",
                "127.0.0.1:70000@1", "127.0.0.1:0@1")) {
            CliRun worker = CliRun.of("serve", "--store", dir.toString(), "--device", "cuda", "--shard-worker", bad, "--port", "0");
            assertEquals(2, worker.exitCode(), bad);
            assertEquals("error: --shard-worker must be HOST:PORT@GPU, got '" + bad + "'", worker.err().strip());
        }
        CliRun fp8 = CliRun.of("serve", "--store", dir.toString(), "--kv-cache-dtype", "fp8", "--port", "0");
        assertEquals(2, fp8.exitCode());
        assertEquals("error: KV cache dtype must be f32 or bf16, got 'fp8'", fp8.err().strip());
        CliRun gpuFp8 = CliRun.of("serve", "--store", dir.toString(), "--device", "cuda", "--kv-cache-dtype", "fp8", "--port", "0");
        assertEquals(2, gpuFp8.exitCode());
        assertEquals("error: KV cache dtype must be f32 or bf16, got 'fp8'", gpuFp8.err().strip());
    }
}
