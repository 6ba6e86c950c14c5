package dev.switchback.kernels.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.kernels.placement.LayerPlacement;
import dev.switchback.kernels.placement.Placements;
import dev.switchback.store.model.ModelConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * What a sharded group hands each GPU from a placement (checked without GPUs): per sparse block the experts it holds
 * with the share of each expert's tokens it computes, every copy of an expert taking a different share; and the
 * placements it refuses before opening any device.
 */
class ShardPlacementTest {
    private static final ModelConfig SWITCH = new ModelConfig(TestModels.VOCAB, 64, 2, 4, 128, 40, false, 10000, 1e-5,
            TestModels.switchUnbounded());

    private static LayerPlacement[] everySparseBlock(ModelConfig config, LayerPlacement p) {
        return Placements.everySparseBlock(config, l -> p);
    }

    @Test
    void eachGpuGetsItsExpertsWithTheirSharesAndEveryShareIsTakenOnce() {
        // Expert 0 on both GPUs (GPU 1's copy listed first), 1 and 3 on GPU 0, 2 on GPU 1.
        LayerPlacement p = new LayerPlacement(2, new int[][] {{1, 0}, {0}, {1}, {0}});
        LayerPlacement[] byLayer = everySparseBlock(SWITCH, p);
        int[][] rank0 = ShardedCudaEngine.held(byLayer, 0);
        int[][] rank1 = ShardedCudaEngine.held(byLayer, 1);
        for (int l = 0; l < SWITCH.layers(); l++) {
            if (!SWITCH.architecture().isSparseLayer(l)) {
                assertNull(rank0[l]);
                assertNull(rank1[l]);
                continue;
            }
            // (expert, share, copies): GPU 0 holds the second copy of expert 0, so it takes the second share.
            assertArrayEquals(new int[] {0, 1, 2, 1, 0, 1, 3, 0, 1}, rank0[l], "block " + l + ", GPU 0");
            assertArrayEquals(new int[] {0, 0, 2, 2, 0, 1}, rank1[l], "block " + l + ", GPU 1");
        }
    }

    @Test
    void aLoadPlanWithSparesCoversEveryShareOfEveryExpertExactlyOnce() {
        long[] counts = {5000, 40, 30, 20, 900, 10, 10, 10};
        LayerPlacement p = Placements.load(counts, 4, 4);
        LayerPlacement[] byLayer = {p};
        int[][] seen = new int[8][];
        for (int r = 0; r < 4; r++) {
            int[] t = ShardedCudaEngine.held(byLayer, r)[0];
            for (int j = 0; j < t.length; j += 3) {
                int e = t[j];
                if (seen[e] == null) {
                    seen[e] = new int[t[j + 2]];
                }
                assertEquals(seen[e].length, t[j + 2], "expert " + e + ": every copy counts the same copies");
                seen[e][t[j + 1]]++;
            }
        }
        for (int e = 0; e < 8; e++) {
            assertEquals(p.devicesOf(e).length, seen[e].length, "expert " + e + " copies");
            for (int share : seen[e]) {
                assertEquals(1, share, "expert " + e + ": each share computed once");
            }
        }
        assertEquals(4, seen[0].length, "the hottest expert has a copy on every GPU");
    }

    @Test
    void placementsThatCannotBeServedAreRefusedBeforeAnyGpuOpens() {
        ModelWeights w = ModelWeights.load(SWITCH, TestModels.tensors(SWITCH, 5).source(), WeightFormat.BF16);
        int[] gpus = {0, 1};
        LayerPlacement allOnOne = new LayerPlacement(2, new int[][] {{0}, {0}, {0}, {0}});
        assertEquals("block 1 places no expert on GPU 1 of 2", assertThrows(IllegalArgumentException.class,
                () -> ShardedCudaEngine.open(w, gpus, CudaEngine.Options.defaults(), everySparseBlock(SWITCH, allOnOne))).getMessage());
        LayerPlacement threeGpus = Placements.roundRobin(4, 3);
        assertEquals("block 1 needs a placement of its 4 experts on 2 GPUs", assertThrows(IllegalArgumentException.class,
                () -> ShardedCudaEngine.open(w, gpus, CudaEngine.Options.defaults(), everySparseBlock(SWITCH, threeGpus))).getMessage());
        assertEquals("a placement per block: 1 for 2 blocks", assertThrows(IllegalArgumentException.class,
                () -> ShardedCudaEngine.open(w, gpus, CudaEngine.Options.defaults(), new LayerPlacement[1])).getMessage());
    }

    /**
     * A remote rank that cannot load (its host lacks the model, say) fails the group before any rank joins NCCL or any
     * GPU here opens, and every remote rank's connection is closed; so does a group that cannot be made at all.
     */
    @Test
    void aRemoteRankThatCannotLoadFailsTheGroupBeforeAnyoneJoins() {
        ModelWeights w = ModelWeights.load(SWITCH, TestModels.tensors(SWITCH, 5).source(), WeightFormat.BF16);
        List<String> calls = java.util.Collections.synchronizedList(new ArrayList<>());
        RemoteRank ready = new Recorded("ready", calls, null);
        RemoteRank missing = new Recorded("missing", calls, "the model folder /models/a is missing on host-b");
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> ShardedCudaEngine.open(w, new int[] {0}, List.of(ready, missing), CudaEngine.Options.defaults(), null));
        assertEquals("the model folder /models/a is missing on host-b", e.getMessage());
        // The ranks load at once (the failure need not wait for the other's load), then every one is closed in rank order.
        assertEquals(java.util.Set.of("ready load", "missing load", "ready close", "missing close"), java.util.Set.copyOf(calls));
        assertTrue(calls.indexOf("ready close") < calls.indexOf("missing close"), calls.toString());
        // Five ranks for a block of four experts: refused before any remote rank loads.
        List<String> refused = new ArrayList<>();
        RemoteRank idle = new Recorded("ready", refused, null);
        List<RemoteRank> four = List.of(idle, idle, idle, idle);
        assertEquals("4 expert(s) per sparse block cannot be shared by 5 GPUs", assertThrows(IllegalArgumentException.class,
                () -> ShardedCudaEngine.open(w, new int[] {0}, four, CudaEngine.Options.defaults(), null)).getMessage());
        assertEquals(List.of("ready close", "ready close", "ready close", "ready close"), refused);
    }

    /**
     * Remote ranks load at once (each reads the model on its own host), and the first failure fails the group without
     * waiting for a slow rank's load, which its close then ends.
     */
    @Test
    @org.junit.jupiter.api.Timeout(30)
    void remoteRanksLoadAtOnceAndTheFirstFailureDoesNotWaitForTheOthers() {
        ModelWeights w = ModelWeights.load(SWITCH, TestModels.tensors(SWITCH, 5).source(), WeightFormat.BF16);
        java.util.concurrent.CountDownLatch bothLoading = new java.util.concurrent.CountDownLatch(2);
        java.util.concurrent.CountDownLatch closed = new java.util.concurrent.CountDownLatch(1);
        List<String> calls = java.util.Collections.synchronizedList(new ArrayList<>());
        // Rank 1 loads until it is closed; rank 2 fails once both are loading, which only happens if they load at once.
        RemoteRank endless = new Recorded("endless", calls, null, bothLoading, closed);
        RemoteRank failing = new Recorded("failing", calls, "host-c has no GPU 1", bothLoading, null);
        long start = System.nanoTime();
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> ShardedCudaEngine.open(w, new int[] {0}, List.of(endless, failing), CudaEngine.Options.defaults(), null));
        assertEquals("host-c has no GPU 1", e.getMessage());
        assertTrue(System.nanoTime() - start < java.util.concurrent.TimeUnit.SECONDS.toNanos(10), "did not wait for the endless load");
        assertTrue(calls.containsAll(List.of("endless close", "failing close")), calls.toString());
    }

    /**
     * A remote rank that records the calls it gets; {@code failure}: what its load throws (null: loads). With
     * {@code loading}, its load counts itself there and waits for the other ranks' (so they must load at once), and
     * with {@code closed} it then waits until the rank is closed.
     */
    private record Recorded(String name, List<String> calls, String failure, java.util.concurrent.CountDownLatch loading,
            java.util.concurrent.CountDownLatch closed) implements RemoteRank {
        Recorded(String name, List<String> calls, String failure) {
            this(name, calls, failure, null, null);
        }

        @Override
        public void load() {
            calls.add(name + " load");
            if (loading != null) {
                loading.countDown();
                try {
                    if (!loading.await(10, java.util.concurrent.TimeUnit.SECONDS)) {
                        throw new IllegalStateException(name + ": the other ranks never started loading");
                    }
                    if (closed != null) {
                        closed.await();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            if (failure != null) {
                throw new IllegalStateException(failure);
            }
        }

        @Override
        public void open(byte[] ncclId, int world, int rank, int[][] held, CudaEngine.Options options) {
            calls.add(name + " open");
        }

        @Override
        public float[][] forward(List<CudaEngine.RankStep> own, int[] tokensPerRank, int[] allIds, int[] allPrev) {
            throw new UnsupportedOperationException("not part of this test");
        }

        @Override
        public int[] decode(List<CudaEngine.RankStep> own, List<CudaEngine.Sampling> sampling, int[] tokensPerRank,
                int[] allIds, int[] allPrev) {
            throw new UnsupportedOperationException("not part of this test");
        }

        @Override
        public String deviceName() {
            return name;
        }

        @Override
        public Map<String, Long> deviceBytes() {
            return Map.of();
        }

        @Override
        public void close() {
            calls.add(name + " close");
            if (closed != null) {
                closed.countDown();
            }
        }
    }
}
