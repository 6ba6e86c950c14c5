package dev.switchback.kernels.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.switchback.kernels.cuda.CudaDevice;
import dev.switchback.kernels.cuda.Cudart;
import dev.switchback.kernels.cuda.Nccl;
import dev.switchback.kernels.placement.LayerPlacement;
import dev.switchback.kernels.placement.Placements;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.ModelConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Experts sharded over two GPUs give what one GPU with every expert gives: the same greedy tokens, logits within the
 * summation-order tolerance, the same routing counts, and each expert labelled with the GPU that holds it.
 */
@Tag("gpu")
class ShardedCudaEngineTest {
    private static final double TOLERANCE = 1e-3;

    static Stream<Architecture> architectures() {
        return Stream.of(TestModels.switchUnbounded(), TestModels.topTwoUnbounded(), TestModels.hashRandom(),
                new Architecture.Ladder(2, TestModels.switchUnbounded()));
    }

    private static void assumeTwoGpus() {
        assumeTrue(Cudart.unavailableReason() == null, "no CUDA");
        assumeTrue(Nccl.findLibrary() != null, "no NCCL");
        assumeTrue(Cudart.get().deviceCount() >= 2, "one GPU here");
    }

    /** Contiguous shares (the default): GPU 0 the first half of each block's experts, GPU 1 the rest. */
    @ParameterizedTest
    @MethodSource("architectures")
    void twoGpusDecodeWhatOneGpuDecodes(Architecture architecture) {
        assumeTwoGpus();
        assertSameAsOneGpu(architecture, null);
    }

    /** Round-robin placement (expert e on GPU e mod 2): each GPU's experts are not contiguous in the model's numbers. */
    @ParameterizedTest
    @MethodSource("fourExperts")
    void roundRobinPlacementDecodesWhatOneGpuDecodes(Architecture architecture) {
        assumeTwoGpus();
        assertSameAsOneGpu(architecture, experts -> Placements.roundRobin(experts, 2));
    }

    /**
     * {@code load} with spare copies: planned on counts where expert 0 has most of the tokens, so it gets a copy on
     * each GPU and its tokens are split between them (and a bigram hash, which computes its expert, is placed as any).
     * Every routed token must still be computed exactly once: the logits and tokens equal one GPU's.
     */
    @ParameterizedTest
    @MethodSource("withCopies")
    void loadPlacementWithCopiesDecodesWhatOneGpuDecodes(Architecture architecture) {
        assumeTwoGpus();
        assertSameAsOneGpu(architecture, experts -> {
            long[] counts = new long[experts];
            counts[0] = 1000;
            for (int e = 1; e < experts; e++) {
                counts[e] = 10 * e;
            }
            LayerPlacement p = Placements.load(counts, 2, 2);
            assertEquals(2, p.devicesOf(0).length, "the hot expert has a copy on each GPU: " + java.util.Arrays.deepToString(p.replicas()));
            return p;
        });
    }

    /**
     * The experts as batched cuBLAS matmuls (every call: cuBLAS from one token) on each GPU, copies of the hot expert
     * included: each GPU gathers its own groups and shares, and the logits and tokens still equal one GPU's.
     */
    @ParameterizedTest
    @MethodSource("boundedCapacity")
    void batchedExpertMatmulsWithCopiesDecodeWhatOneGpuDecodes(Architecture architecture) {
        assumeTwoGpus();
        CudaEngine.Options options = new CudaEngine.Options(4, 0, 4, 64, true, 1);
        assertSameAsOneGpu(architecture, experts -> {
            long[] counts = new long[experts];
            counts[0] = 1000;
            for (int e = 1; e < experts; e++) {
                counts[e] = 10 * e;
            }
            return Placements.load(counts, 2, 2);
        }, options);
    }

    static Stream<Architecture> boundedCapacity() {
        return Stream.of(new Architecture.Switch(4, 2, 1.25, 2.0, 0.01, 1e-3, 0.1, 0.0),
                new Architecture.TopK(4, 2, 1, 1.25, 2.0, 0.01, 1e-3, 0.1, 0.0));
    }

    static Stream<Architecture> fourExperts() {
        return Stream.of(TestModels.switchUnbounded(), TestModels.topTwoUnbounded(),
                new Architecture.Hash(4, 1, Architecture.HashKind.random, 7, 0.0));
    }

    static Stream<Architecture> withCopies() {
        return Stream.of(TestModels.switchUnbounded(), TestModels.topTwoUnbounded(), TestModels.hashRandom(),
                TestModels.hashBigram(), new Architecture.Ladder(2, TestModels.switchUnbounded()));
    }

    /** {@code place}: a block's placement from its expert count (null: contiguous shares). */
    private static void assertSameAsOneGpu(Architecture architecture, java.util.function.IntFunction<LayerPlacement> place) {
        assertSameAsOneGpu(architecture, place, new CudaEngine.Options(4, 0, 4, 64, true));
    }

    private static void assertSameAsOneGpu(Architecture architecture, java.util.function.IntFunction<LayerPlacement> place,
                                           CudaEngine.Options options) {
        ModelConfig config = new ModelConfig(TestModels.VOCAB, 64, 2, 4, 128, 40, false, 10000, 1e-5, architecture);
        ModelWeights w = ModelWeights.load(config, TestModels.tensors(config, 21).source(), WeightFormat.BF16);
        int experts = config.architecture().sparse().experts();
        LayerPlacement[] placement = place == null ? null : Placements.everySparseBlock(config, l -> place.apply(experts));
        try (CudaDevice d0 = CudaDevice.open(0); CudaEngine one = new CudaEngine(w, d0, options);
                ShardedCudaEngine two = ShardedCudaEngine.open(w, new int[] {0, 1}, options, placement)) {
            assertEquals(2, two.ranks());
            if (options.gemmMinTokens() == 1) {
                assertTrue(one.batchedExperts(2), "a 2-token step runs its experts as batched cuBLAS matmuls");
            }
            int sparse = 0;
            while (!config.architecture().isSparseLayer(sparse)) {
                sparse++;
            }
            for (int e = 0; e < experts; e++) {
                int[] on = placement == null ? new int[] {e < experts / 2 ? 0 : 1} : placement[sparse].devicesOf(e);
                StringBuilder label = new StringBuilder();
                for (int r : on) {
                    label.append(label.isEmpty() ? "" : ",").append("cuda:").append(r);
                }
                assertEquals(label.toString(), two.expertDevice(sparse, e), "expert " + e);
            }
            // A prompt chunk of one sequence beside another's: logits.
            Sequence a1 = one.newSequence();
            Sequence b1 = one.newSequence();
            Sequence a2 = two.newSequence();
            Sequence b2 = two.newSequence();
            int[] pa = TestModels.tokens(3, 9);
            int[] pb = TestModels.tokens(4, 5);
            float[][] expected = one.forward(List.of(new Engine.Step(a1, pa), new Engine.Step(b1, pb)));
            float[][] actual = two.forward(List.of(new Engine.Step(a2, pa), new Engine.Step(b2, pb)));
            for (int i = 0; i < 2; i++) {
                double diff = TestModels.relativeDifference(expected[i], actual[i]);
                assertTrue(diff <= TOLERANCE, architecture.kind() + " row " + i + ": " + diff);
            }
            assertEquals(pa.length, a2.length());
            // Greedy decoding of both sequences together.
            int[] next1 = {TestModels.argmax(expected[0]), TestModels.argmax(expected[1])};
            int[] next2 = next1.clone();
            List<CudaEngine.Sampling> greedy = List.of(CudaEngine.Sampling.GREEDY, CudaEngine.Sampling.GREEDY);
            List<Integer> tokens1 = new ArrayList<>();
            List<Integer> tokens2 = new ArrayList<>();
            for (int step = 0; step < 16; step++) {
                next1 = one.decode(List.of(new Engine.Step(a1, new int[] {next1[0]}), new Engine.Step(b1, new int[] {next1[1]})), greedy);
                next2 = two.decode(List.of(new Engine.Step(a2, new int[] {next2[0]}), new Engine.Step(b2, new int[] {next2[1]})), greedy);
                tokens1.add(next1[0]);
                tokens1.add(next1[1]);
                tokens2.add(next2[0]);
                tokens2.add(next2[1]);
            }
            assertEquals(tokens1, tokens2, architecture.kind() + ": greedy tokens");
            long[][] routed1 = one.routedTokens();
            long[][] routed2 = two.routedTokens();
            for (int l = 0; l < routed1.length; l++) {
                assertArrayEquals(routed1[l], routed2[l], "layer " + l + " routed counts");
            }
            assertEquals(2, two.deviceBytes().size());
            for (int l = 0; l < routed1.length; l++) {
                for (int e = 0; e < routed1[l].length; e++) {
                    assertEquals(routed1[l][e], two.expertStats().routed(l, e), "layer " + l + " expert " + e + " in the metrics");
                }
            }
        }
    }

    /**
     * Sequences split over the GPUs as they come and go: a third sequence joins two that are decoding, a call with one
     * sequence leaves the other GPU without tokens of its own (it still computes its experts for the other's tokens),
     * and the GPUs' rows come back in the call's order. Every call's logits equal one GPU's.
     */
    @ParameterizedTest
    @MethodSource("architectures")
    void sequencesSplitOverTheGpusAsTheyComeAndGo(Architecture architecture) {
        assumeTwoGpus();
        ModelConfig config = new ModelConfig(TestModels.VOCAB, 64, 2, 4, 128, 40, false, 10000, 1e-5, architecture);
        ModelWeights w = ModelWeights.load(config, TestModels.tensors(config, 23).source(), WeightFormat.BF16);
        CudaEngine.Options options = new CudaEngine.Options(4, 0, 4, 64, true);
        try (CudaDevice d0 = CudaDevice.open(0); CudaEngine one = new CudaEngine(w, d0, options);
                ShardedCudaEngine two = ShardedCudaEngine.open(w, new int[] {0, 1}, options)) {
            List<Sequence> s1 = new ArrayList<>();
            List<Sequence> s2 = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                s1.add(one.newSequence());
                s2.add(two.newSequence());
            }
            int[][] calls = {{0, 1}, {1, 0}, {2, 0, 1}, {1}, {2}, {0, 2, 1}, {0}};
            for (int c = 0; c < calls.length; c++) {
                List<Engine.Step> steps1 = new ArrayList<>();
                List<Engine.Step> steps2 = new ArrayList<>();
                for (int i : calls[c]) {
                    int[] tokens = s1.get(i).length() == 0 ? TestModels.tokens(10 + i, 3 + 2 * i) : new int[] {(7 * c + i) % TestModels.VOCAB};
                    steps1.add(new Engine.Step(s1.get(i), tokens));
                    steps2.add(new Engine.Step(s2.get(i), tokens));
                }
                float[][] expected = one.forward(steps1);
                float[][] actual = two.forward(steps2);
                for (int i = 0; i < calls[c].length; i++) {
                    double diff = TestModels.relativeDifference(expected[i], actual[i]);
                    assertTrue(diff <= TOLERANCE, architecture.kind() + " call " + c + " sequence " + calls[c][i] + ": " + diff);
                }
            }
            for (int i = 0; i < 3; i++) {
                assertEquals(s1.get(i).length(), s2.get(i).length(), "sequence " + i + " length");
            }
            long[][] routed1 = one.routedTokens();
            long[][] routed2 = two.routedTokens();
            for (int l = 0; l < routed1.length; l++) {
                assertArrayEquals(routed1[l], routed2[l], "layer " + l + " routed counts");
            }
        }
    }

    @Test
    void aGroupNeedsTwoGpusAndAnExpertForEach() {
        assumeTwoGpus();
        ModelConfig config = new ModelConfig(TestModels.VOCAB, 64, 2, 4, 128, 40, false, 10000, 1e-5, TestModels.dense());
        ModelWeights w = ModelWeights.load(config, TestModels.tensors(config, 22).source(), WeightFormat.BF16);
        assertEquals("a dense model has no experts to shard over 2 GPUs", assertThrows(IllegalArgumentException.class,
                () -> ShardedCudaEngine.open(w, new int[] {0, 1}, CudaEngine.Options.defaults())).getMessage());
        assertEquals("sharding needs at least 2 GPUs, got 1", assertThrows(IllegalArgumentException.class,
                () -> ShardedCudaEngine.open(w, new int[] {0}, CudaEngine.Options.defaults())).getMessage());
    }
}
