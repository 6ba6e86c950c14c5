package dev.switchback.server.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.kernels.engine.CudaEngine;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A shard worker's answers to calls it cannot serve, over loopback and without a GPU: a step before any rank is open,
 * and a model folder that is not on the worker's host (the store's refusal, naming the folder) whether loaded first or
 * opened at once, each a status that says so.
 */
class ShardWorkerTest {
    @Test
    void callsItCannotServeGetAStatusThatSaysWhy(@TempDir Path dir) throws Exception {
        try (ShardWorker worker = ShardWorker.start(new InetSocketAddress("127.0.0.1", 0))) {
            String target = "127.0.0.1:" + worker.port();
            Path missing = dir.resolve("no-model");
            try (ShardWorkerClient client = new ShardWorkerClient(target, 1, missing.toString())) {
                assertEquals("shard worker at " + target + " (forward): FAILED_PRECONDITION: no rank is open on this worker",
                        assertThrows(IllegalStateException.class,
                                () -> client.forward(List.of(), new int[] {0, 0}, new int[0], new int[0])).getMessage());
                IllegalStateException load = assertThrows(IllegalStateException.class, client::load);
                assertTrue(load.getMessage().startsWith("shard worker at " + target + " (load " + missing + " on cuda:1): FAILED_PRECONDITION:"
                        + " refusing to open " + missing), load.getMessage());
                IllegalStateException open = assertThrows(IllegalStateException.class, () -> client.open(new byte[128], 2, 1,
                        new int[][] {null, {0, 0, 1}}, CudaEngine.Options.defaults()));
                assertTrue(open.getMessage().startsWith("shard worker at " + target + " (open rank 1): FAILED_PRECONDITION: refusing to open "
                        + missing), open.getMessage());
            }
        }
    }
}
