package dev.switchback.server.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.kernels.kv.BlockPool;
import dev.switchback.kernels.kv.KvFormat;
import dev.switchback.kernels.placement.PlacementStrategy;
import dev.switchback.server.scheduler.SchedulerOptions;
import dev.switchback.store.model.ModelConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** Options are checked at construction, each complaint naming its field. */
class ServerOptionsTest {
    static void refused(String field, Supplier<?> build) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, build::get);
        assertTrue(e.getMessage().startsWith(field + " "), field + ": " + e.getMessage());
    }

    @Test
    void everyBadFieldIsNamed() {
        ServerOptions d = ServerOptions.defaults();
        refused("models", () -> d.withModels(List.of("a", "a")));
        refused("models", () -> d.withModels(List.of(" ")));
        refused("maxWaiting", () -> d.withBatching(0, 4, 8, 8));
        refused("maxRunning", () -> d.withBatching(8, 0, 8, 8));
        refused("tokenBudget", () -> d.withBatching(8, 16, 8, 8));
        refused("prefillChunk", () -> d.withBatching(8, 4, 8, 0));
        refused("kvBlockSize", () -> d.withKvBlocks(0, 8));
        refused("kvBlocks", () -> d.withKvBlocks(16, -1));
        refused("kvCacheBytes", () -> d.withKvCacheBytes(0));
        refused("prefixCacheBytes", () -> d.withPrefixCacheBytes(-1));
        refused("loadedModelsBytes", () -> d.withLoadedModelsBytes(0));
        refused("defaultMaxTokens", () -> d.withDefaultMaxTokens(0));
        refused("requestTimeout", () -> d.withRequestTimeout(Duration.ofSeconds(-1)));
        refused("defaultTimeout", () -> new SchedulerOptions(1, 1, 1, 1, 0, null));
        // The GPU's cache stores BF16 too now.
        assertEquals(KvFormat.BF16, d.withKvFormat(KvFormat.BF16).withDevice("cuda:0").kvFormat());
    }

    @Test
    void severalGpusShardTheExperts() {
        assertArrayEquals(new int[] {0, 1, 3}, ServerOptions.defaults().withDevice("cuda:0,1,3").cudaDevices());
        assertEquals(0, ServerOptions.defaults().withDevice("cuda:0,1,3").cudaDevice());
        assertEquals(2, ServerOptions.defaults().withDevice("cuda:2").cudaDevice());
        assertEquals(0, ServerOptions.defaults().cudaDevices().length);
        refused("device", () -> ServerOptions.defaults().withDevice("cuda:0,"));
        assertEquals(PlacementOption.roundRobin(),
                ServerOptions.defaults().withDevice("cuda:0,1").withExpertPlacement(PlacementOption.roundRobin()).expertPlacement());
        refused("expertPlacement", () -> ServerOptions.defaults().withDevice("cuda:0").withExpertPlacement(PlacementOption.roundRobin()));
        // A shard worker's GPU is a further rank: one local GPU and a worker shard too, and may be placed.
        List<ServerOptions.ShardWorkerAddress> worker = List.of(ServerOptions.ShardWorkerAddress.parse("gpu-host-2:9300@1"));
        ServerOptions withWorker = ServerOptions.defaults().withDevice("cuda:0").withShardWorkers(worker)
                .withExpertPlacement(PlacementOption.roundRobin());
        assertTrue(withWorker.sharded());
        assertEquals(new ServerOptions.ShardWorkerAddress("gpu-host-2:9300", 1), withWorker.shardWorkers().get(0));
        assertFalse(ServerOptions.defaults().withDevice("cuda:0").sharded());
        assertTrue(ServerOptions.defaults().withDevice("cuda:0,1").sharded());
        refused("shardWorkers", () -> ServerOptions.defaults().withShardWorkers(worker));
        for (String bad : List.of("host:9300", "host@1", "host:9300@-1", "host:99999@0", "host:0@1", "ho st:1@0")) {
            assertThrows(IllegalArgumentException.class, () -> ServerOptions.ShardWorkerAddress.parse(bad), bad);
        }
        assertEquals("expert placement load plans from the token counts of a calibration text: give one (serve --placement-text FILE)",
                assertThrows(IllegalArgumentException.class, () -> new PlacementOption(PlacementStrategy.LOAD, null, 100)).getMessage());
        Path text = Path.of("calibration.txt");
        assertEquals(text, new PlacementOption(PlacementStrategy.STATIC_BALANCED, text, 100).calibration());
        refused("calibrationTokens", () -> new PlacementOption(PlacementStrategy.LOAD, text, 0));
    }

    @Test
    void aBf16KvCacheHoldsTwiceTheBlocksInTheSameBytes() {
        ModelConfig config = ServableModels.config(ServableModels.switchUnbounded());
        ServerOptions f32 = ServerOptions.defaults().withKvCacheBytes(64L << 20);
        ServerOptions bf16 = f32.withKvFormat(KvFormat.BF16);
        assertEquals(2 * f32.kvBlocksFor(config), bf16.kvBlocksFor(config));
        assertEquals(KvFormat.BF16, bf16.engineFor(config).kvFormat());
        assertEquals(KvFormat.F32, f32.engineFor(config).kvFormat());
    }

    @Test
    void theKvPoolIsSizedByBlocksOrByBytes() {
        ModelConfig config = ServableModels.config(ServableModels.switchUnbounded());
        assertEquals(40, ServerOptions.defaults().withKvBlocks(8, 40).kvBlocksFor(config));
        long blockBytes = BlockPool.blockBytes(16, config.layers(), config.dModel());
        assertEquals(10, ServerOptions.defaults().withKvCacheBytes(10 * blockBytes + 1).kvBlocksFor(config));
        assertEquals(1, ServerOptions.defaults().withKvCacheBytes(1).kvBlocksFor(config), "at least one block");
        SchedulerOptions scheduler = ServerOptions.defaults().scheduler();
        assertEquals(16, scheduler.maxRunning());
        assertEquals(Duration.ofMinutes(10), scheduler.defaultTimeout());
    }
}
