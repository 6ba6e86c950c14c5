package dev.switchback.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.kernels.cuda.CudaDevice;
import dev.switchback.kernels.engine.CudaEngine;
import dev.switchback.kernels.engine.Engine;
import dev.switchback.kernels.engine.ModelWeights;
import dev.switchback.kernels.engine.Sequence;
import dev.switchback.kernels.engine.ShardedCudaEngine;
import dev.switchback.server.cluster.ShardWorkerClient;
import dev.switchback.store.PublishedModel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A shard worker that dies while its group serves (killed as a crash would). Its own class, run in a JVM of its own by
 * scripts/gpu/device-run.sh: the broken group's memory on GPU 0 stays held until the process ends, which later tests
 * should not inherit. Runs only where two CUDA devices and NCCL are found.
 */
@Tag("gpu")
class DeadShardWorkerTest {
    /**
     * The next step fails after the grace given to the rank left waiting in an exchange with the dead worker (here
     * 3 s) instead of hanging, and names the worker; the group refuses every later step saying why, its exchanges are
     * aborted so that GPU 0 runs a new engine afterwards (before the abort, the stranded exchange kept GPU 0 busy
     * forever), and closing the group does not hang.
     */
    @Test
    void aWorkerThatDiesMidServiceFailsTheStepAndGpu0ServesAgain(@TempDir Path store) throws Exception {
        PublishedModel model = ShardAcrossProcessesTest.publishTiny(store);
        ModelWeights w = ShardAcrossProcessesTest.weights(store, model);
        CudaEngine.Options options = new CudaEngine.Options(4, 0, 4, 64, true);
        System.setProperty("switchback.cuda.strandedSeconds", "3");
        try (ShardWorkerProcess worker = ShardWorkerProcess.start(store)) {
            ShardedCudaEngine two = ShardedCudaEngine.open(w, new int[] {0},
                    List.of(new ShardWorkerClient(worker.target(), 1, model.dir().toString())), options, null);
            Sequence s = two.newSequence();
            assertEquals(1, two.forward(List.of(new Engine.Step(s, new int[] {5, 9, 14}))).length);
            worker.kill();
            long start = System.nanoTime();
            RuntimeException failed = assertThrows(RuntimeException.class, () -> two.forward(List.of(new Engine.Step(s, new int[] {7}))));
            double seconds = (System.nanoTime() - start) / 1e9;
            assertTrue(seconds < 20, "failed after " + seconds + " s");
            assertTrue(failed.getMessage().contains(worker.target()), failed.getMessage());
            RuntimeException refused = assertThrows(RuntimeException.class, () -> two.forward(List.of(new Engine.Step(s, new int[] {7}))));
            assertTrue(refused.getMessage().startsWith("this sharded group cannot run any more: rank 1 failed")
                    && refused.getMessage().endsWith("; the group's exchanges were aborted"), refused.getMessage());
            assertTimeoutPreemptively(Duration.ofSeconds(20), two::close, "closing the broken group");
            assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
                try (CudaDevice d0 = CudaDevice.open(0); CudaEngine one = new CudaEngine(w, d0, options)) {
                    Sequence t = one.newSequence();
                    assertEquals(1, one.forward(List.of(new Engine.Step(t, new int[] {5, 9}))).length);
                }
            }, "a new engine on GPU 0 after the broken group");
        } finally {
            System.clearProperty("switchback.cuda.strandedSeconds");
        }
    }
}
