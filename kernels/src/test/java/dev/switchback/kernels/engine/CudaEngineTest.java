package dev.switchback.kernels.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.switchback.kernels.cpu.Parallel;
import dev.switchback.kernels.cuda.CudaDevice;
import dev.switchback.kernels.cuda.Cudart;
import dev.switchback.kernels.kv.KvCacheFullException;
import dev.switchback.kernels.kv.KvFormat;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.ModelConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/**
 * The CUDA engine against the CPU engine on the same BF16 weights: logits of prefill and of mixed
 * prefill+decode batches for every architecture, routing counters, greedy and sampled decoding through captured
 * graphs, and errors. Runs only where a CUDA device is found (tag {@code gpu}); skipped elsewhere.
 */
@Tag("gpu")
class CudaEngineTest {
    /** BF16 weights on both sides, F32 arithmetic: only summation order and fast exp/tanh differ. */
    private static final double TOLERANCE = 1e-3;
    private static CudaDevice device;

    @BeforeAll
    static void open() {
        String why = Cudart.unavailableReason();
        assumeTrue(why == null, "no CUDA: " + why);
        device = CudaDevice.open(0);
    }

    @AfterAll
    static void close() {
        if (device != null) {
            device.close();
        }
    }

    /** Every architecture, at TestModels' odd widths (scalar kernel path) and at a width of 64 (vector path). */
    static List<ModelConfig> configs() {
        List<Architecture> archs = List.of(TestModels.dense(), TestModels.switchUnbounded(), TestModels.topTwoUnbounded(),
                TestModels.hashRandom(), TestModels.hashBigram(), new Architecture.Ladder(2, TestModels.dense()),
                new Architecture.Ladder(2, TestModels.hashRandom()), new Architecture.Ladder(2, TestModels.switchUnbounded()),
                new Architecture.Switch(4, 2, 1.25, 0.5, 0.01, 1e-3, 0.1, 0.0));
        List<ModelConfig> out = new ArrayList<>();
        for (Architecture a : archs) {
            out.add(TestModels.config(a));
            out.add(new ModelConfig(TestModels.VOCAB, 64, 2, 4, 128, 40, false, 10000, 1e-5, a));
        }
        return out;
    }

    private static ModelWeights weights(ModelConfig config, long seed) {
        return ModelWeights.load(config, TestModels.tensors(config, seed).source(), WeightFormat.BF16);
    }

    @ParameterizedTest
    @MethodSource("configs")
    void logitsMatchTheCpuEngineThroughPrefillAndMixedBatches(ModelConfig config) {
        ModelWeights w = weights(config, 11);
        Engine cpu = new Engine(w, new CpuBackend(new Parallel(1)), null, Engine.Options.defaults().withFormat(WeightFormat.BF16));
        long before = device.allocatedBytes();
        try (CudaEngine gpu = new CudaEngine(w, device, new CudaEngine.Options(4, 0, 4, 64, true))) {
            // Metrics labels: every expert on this GPU, which holds at least the BF16 weights.
            assertEquals(device.name(), gpu.expertDevice(config.layers() - 1, 0));
            long held = gpu.deviceBytes().get(device.name());
            assertEquals(device.allocatedBytes() - before, held);
            assertTrue(held >= 2 * (config.totalParameters() - (long) config.vocabSize() * config.dModel()),
                    held + " bytes on the device: at least the BF16 weights besides the embedding");
            int[][] prompts = {TestModels.tokens(1, 7), TestModels.tokens(2, 3), TestModels.tokens(3, 11)};
            List<Sequence> cs = new ArrayList<>();
            List<Sequence> gs = new ArrayList<>();
            // Prefill the first two together, then the third joins while the others decode.
            List<Engine.Step> cSteps = new ArrayList<>();
            List<Engine.Step> gSteps = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                cs.add(cpu.newSequence());
                gs.add(gpu.newSequence());
            }
            for (int i = 0; i < 2; i++) {
                cSteps.add(new Engine.Step(cs.get(i), prompts[i]));
                gSteps.add(new Engine.Step(gs.get(i), prompts[i]));
            }
            compare(cpu.forward(cSteps), gpu.forward(gSteps), config + " prefill");
            for (int step = 0; step < 6; step++) {
                cSteps.clear();
                gSteps.clear();
                for (int i = 0; i < 3; i++) {
                    int[] t = i == 2 && step == 0 ? prompts[2] : new int[] {(step * 7 + i * 5) % TestModels.VOCAB};
                    cSteps.add(new Engine.Step(cs.get(i), t));
                    gSteps.add(new Engine.Step(gs.get(i), t));
                }
                compare(cpu.forward(cSteps), gpu.forward(gSteps), config + " step " + step);
            }
            if (config.architecture().sparse() != null) {
                long[][] routed = gpu.routedTokens();
                long[][] dropped = gpu.droppedTokens();
                int k = config.architecture().sparse() instanceof Architecture.TopK t ? t.k() : 1;
                long tokens = 7 + 3 + 11 + 6 * 2 + 5;
                for (int l = 0; l < config.layers(); l++) {
                    if (!config.architecture().isSparseLayer(l)) {
                        continue;
                    }
                    long sum = 0;
                    for (int e = 0; e < routed[l].length; e++) {
                        sum += routed[l][e] + dropped[l][e];
                        assertEquals(cpu.expertStats().routed(l, e), routed[l][e], config + " layer " + l + " expert " + e + " routed");
                        assertEquals(cpu.expertStats().dropped(l, e), dropped[l][e], config + " layer " + l + " expert " + e + " dropped");
                        assertEquals(routed[l][e], gpu.expertStats().routed(l, e), "the counters that came back with the last step");
                        assertEquals(dropped[l][e], gpu.expertStats().dropped(l, e), "the counters that came back with the last step");
                    }
                    assertEquals(tokens * k * config.architecture().passes(), sum, "no assignment lost in layer " + l);
                }
            }
        }
    }

    /** Architectures at TestModels' odd widths (scalar attention path) and at a width of 64 (vector path). */
    static List<ModelConfig> bf16CacheConfigs() {
        List<ModelConfig> out = new ArrayList<>();
        for (Architecture a : List.of(TestModels.dense(), TestModels.switchUnbounded(), TestModels.hashBigram(),
                new Architecture.Ladder(2, TestModels.switchUnbounded()))) {
            out.add(TestModels.config(a));
            out.add(new ModelConfig(TestModels.VOCAB, 64, 2, 4, 128, 40, false, 10000, 1e-5, a));
        }
        return out;
    }

    /**
     * A BF16 KV cache on the device against the CPU engine's BF16 cache (both round to nearest even): logits of a
     * prefill and of twelve decode steps within BF16 tolerance; and the cache takes exactly half the F32 cache's device
     * bytes.
     */
    @ParameterizedTest
    @MethodSource("bf16CacheConfigs")
    void aBf16KvCacheMatchesTheCpuEnginesBf16CacheInHalfTheBytes(ModelConfig config) {
        ModelWeights w = weights(config, 13);
        Engine cpu = new Engine(w, new CpuBackend(new Parallel(1)), null,
                Engine.Options.defaults().withFormat(WeightFormat.BF16).withKvFormat(KvFormat.BF16));
        CudaEngine.Options f32 = new CudaEngine.Options(4, 24, 4, 64, true);
        long f32Bytes;
        try (CudaEngine gpu = new CudaEngine(w, device, f32)) {
            f32Bytes = gpu.deviceBytes().get(device.name());
        }
        try (CudaEngine gpu = new CudaEngine(w, device, f32.withKvFormat(KvFormat.BF16))) {
            long kvF32 = 2L * 4 * 24 * config.architecture().passes() * config.layers() * 4 * config.dModel();
            assertEquals(f32Bytes - kvF32 / 2, gpu.deviceBytes().get(device.name()), "a BF16 cache takes half the F32 cache's bytes");
            Sequence c1 = cpu.newSequence();
            Sequence c2 = cpu.newSequence();
            Sequence g1 = gpu.newSequence();
            Sequence g2 = gpu.newSequence();
            int[] p1 = TestModels.tokens(4, 9);
            int[] p2 = TestModels.tokens(5, 6);
            float[][] expected = cpu.forward(List.of(new Engine.Step(c1, p1), new Engine.Step(c2, p2)));
            float[][] actual = gpu.forward(List.of(new Engine.Step(g1, p1), new Engine.Step(g2, p2)));
            compare(expected, actual, BF16_CACHE_TOLERANCE, config + " prefill");
            // Twelve decode steps (captured graphs), both engines fed the CPU engine's greedy tokens.
            int[] next = {TestModels.argmax(expected[0]), TestModels.argmax(expected[1])};
            for (int step = 0; step < 12; step++) {
                float[][] onCpu = cpu.forward(List.of(new Engine.Step(c1, new int[] {next[0]}), new Engine.Step(c2, new int[] {next[1]})));
                float[][] onGpu = gpu.forward(List.of(new Engine.Step(g1, new int[] {next[0]}), new Engine.Step(g2, new int[] {next[1]})));
                compare(onCpu, onGpu, BF16_CACHE_TOLERANCE, config + " step " + step);
                next = new int[] {TestModels.argmax(onCpu[0]), TestModels.argmax(onCpu[1])};
            }
        }
    }

    /** Keys and values rounded to BF16 on both sides: a key element may round to the neighbouring BF16 value. */
    private static final double BF16_CACHE_TOLERANCE = 1e-2;

    private static void compare(float[][] expected, float[][] actual, double tolerance, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            double diff = TestModels.relativeDifference(expected[i], actual[i]);
            assertTrue(diff <= tolerance, what + " row " + i + ": relative difference " + diff);
        }
    }

    private static void compare(float[][] expected, float[][] actual, String what) {
        compare(expected, actual, TOLERANCE, what);
    }

    /**
     * Architectures for calls of 16+ tokens, and whether their 16-token decode steps run the experts as batched cuBLAS
     * matmuls: a learned router whose capacity keeps the padded rows within the work buffers does (with drops at
     * capacity factor 0.5, and top-2), an unbounded capacity keeps the grouped kernel.
     */
    static List<Arguments> largeCalls() {
        return List.of(Arguments.of(TestModels.dense(), false),
                Arguments.of(TestModels.switchUnbounded(), false),
                Arguments.of(new Architecture.Switch(4, 2, 1.25, 2.0, 0.01, 1e-3, 0.1, 0.0), true),
                Arguments.of(new Architecture.Switch(4, 2, 1.25, 0.5, 0.01, 1e-3, 0.1, 0.0), true),
                Arguments.of(new Architecture.TopK(4, 2, 1, 1.25, 2.0, 0.01, 1e-3, 0.1, 0.0), true));
    }

    /**
     * Calls of 16+ tokens run the dense matmuls on cuBLAS with BF16 inputs, and bounded learned routers their experts
     * as batched cuBLAS matmuls: BF16 tolerance against the CPU engine, the routing counters equal, graphs agree.
     */
    @ParameterizedTest
    @MethodSource("largeCalls")
    void largeCallsRunOnCublasWithinBf16ToleranceAndGraphsAgree(Architecture a, boolean batchedExperts) {
        ModelConfig config = new ModelConfig(TestModels.VOCAB, 64, 2, 4, 128, 40, false, 10000, 1e-5, a);
        ModelWeights w = weights(config, 21);
        Engine cpu = new Engine(w, new CpuBackend(new Parallel(1)), null,
                Engine.Options.defaults().withFormat(WeightFormat.BF16).withMaxSequences(16));
        CudaEngine.Options options = new CudaEngine.Options(4, 0, 16, 64, true, 16);
        try (CudaEngine eager = new CudaEngine(w, device, new CudaEngine.Options(4, 0, 16, 64, false, 16));
                CudaEngine graphed = new CudaEngine(w, device, options)) {
            assertEquals(batchedExperts, graphed.batchedExperts(16), a.kind() + ": experts of a 16-token step on cuBLAS");
            List<Sequence> cs = new ArrayList<>();
            List<Sequence> es = new ArrayList<>();
            List<Sequence> gs = new ArrayList<>();
            List<Engine.Step> cSteps = new ArrayList<>();
            List<Engine.Step> eSteps = new ArrayList<>();
            List<Engine.Step> gSteps = new ArrayList<>();
            List<CudaEngine.Sampling> greedy = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                int[] prompt = TestModels.tokens(100 + i, 2 + i % 3);
                cs.add(cpu.newSequence());
                es.add(eager.newSequence());
                gs.add(graphed.newSequence());
                cSteps.add(new Engine.Step(cs.get(i), prompt));
                eSteps.add(new Engine.Step(es.get(i), prompt));
                gSteps.add(new Engine.Step(gs.get(i), prompt));
                greedy.add(CudaEngine.Sampling.GREEDY);
            }
            float[][] expected = cpu.forward(cSteps);
            float[][] actual = eager.forward(eSteps);
            int[] next = graphed.decode(gSteps, greedy);
            for (int step = 0; step < 4; step++) {
                double worst = 0;
                for (int i = 0; i < 16; i++) {
                    worst = Math.max(worst, TestModels.relativeDifference(expected[i], actual[i]));
                    assertEquals(TestModels.argmax(actual[i]), next[i], a.kind() + " step " + step + " row " + i + ": graph vs eager");
                }
                assertTrue(worst <= 2e-2, a.kind() + " step " + step + ": relative difference " + worst);
                cSteps.clear();
                eSteps.clear();
                gSteps.clear();
                for (int i = 0; i < 16; i++) {
                    int[] t = {next[i]};
                    cSteps.add(new Engine.Step(cs.get(i), t));
                    eSteps.add(new Engine.Step(es.get(i), t));
                    gSteps.add(new Engine.Step(gs.get(i), t));
                }
                expected = cpu.forward(cSteps);
                actual = eager.forward(eSteps);
                next = graphed.decode(gSteps, greedy);
            }
            if (config.architecture().sparse() != null) {
                long[][] routed = eager.routedTokens();
                long[][] dropped = eager.droppedTokens();
                for (int l = 0; l < config.layers(); l++) {
                    for (int e = 0; config.architecture().isSparseLayer(l) && e < routed[l].length; e++) {
                        assertEquals(cpu.expertStats().routed(l, e), routed[l][e], a.kind() + " layer " + l + " expert " + e + " routed");
                        assertEquals(cpu.expertStats().dropped(l, e), dropped[l][e], a.kind() + " layer " + l + " expert " + e + " dropped");
                    }
                }
            }
        }
    }

    @Test
    void greedyDecodingThroughGraphsEqualsTheCpuEngine() {
        ModelConfig config = new ModelConfig(TestModels.VOCAB, 64, 2, 4, 128, 40, false, 10000, 1e-5, TestModels.switchUnbounded());
        ModelWeights w = weights(config, 5);
        Engine cpu = new Engine(w, new CpuBackend(new Parallel(1)), null, Engine.Options.defaults().withFormat(WeightFormat.BF16));
        try (CudaEngine gpu = new CudaEngine(w, device, new CudaEngine.Options(4, 0, 4, 64, true))) {
            int[] prompt = TestModels.tokens(9, 5);
            Sequence c = cpu.newSequence();
            Sequence g = gpu.newSequence();
            int cNext = TestModels.argmax(cpu.prefill(c, prompt));
            int gNext = gpu.decode(List.of(new Engine.Step(g, prompt)), List.of(CudaEngine.Sampling.GREEDY))[0];
            assertEquals(cNext, gNext, "first token");
            for (int i = 0; i < 20; i++) {
                cNext = TestModels.argmax(cpu.forward(List.of(new Engine.Step(c, new int[] {cNext})))[0]);
                gNext = gpu.decode(List.of(new Engine.Step(g, new int[] {gNext})), List.of(CudaEngine.Sampling.GREEDY))[0];
                assertEquals(cNext, gNext, "token " + (i + 1));
            }
        }
    }

    /**
     * A server loads a model on one thread and drives it from another, whose current CUDA device is 0: an engine on
     * the second GPU must still decode the CPU engine's tokens and read its counters from there.
     */
    @Test
    void anEngineOnTheSecondGpuWorksFromAThreadWhoseCurrentDeviceIsTheFirst() throws Exception {
        assumeTrue(Cudart.get().deviceCount() >= 2, "one GPU here");
        ModelConfig config = new ModelConfig(TestModels.VOCAB, 64, 2, 4, 128, 40, false, 10000, 1e-5, TestModels.switchUnbounded());
        ModelWeights w = weights(config, 6);
        Engine cpu = new Engine(w, new CpuBackend(new Parallel(1)), null, Engine.Options.defaults().withFormat(WeightFormat.BF16));
        int[] prompt = TestModels.tokens(10, 6);
        List<Integer> expected = new ArrayList<>();
        Sequence c = cpu.newSequence();
        int next = TestModels.argmax(cpu.prefill(c, prompt));
        for (int i = 0; i < 12; i++) {
            expected.add(next);
            next = TestModels.argmax(cpu.forward(List.of(new Engine.Step(c, new int[] {next})))[0]);
        }
        try (CudaDevice second = CudaDevice.open(1); CudaEngine gpu = new CudaEngine(w, second, new CudaEngine.Options(4, 0, 4, 64, true))) {
            device.use(); // this thread back on device 0
            List<Integer> got = new ArrayList<>();
            long[] routed = new long[1];
            Thread driver = new Thread(() -> {
                Sequence g = gpu.newSequence();
                int t = gpu.decode(List.of(new Engine.Step(g, prompt)), List.of(CudaEngine.Sampling.GREEDY))[0];
                for (int i = 0; i < 12; i++) {
                    got.add(t);
                    t = gpu.decode(List.of(new Engine.Step(g, new int[] {t})), List.of(CudaEngine.Sampling.GREEDY))[0];
                }
                for (long[] layer : gpu.routedTokens()) {
                    for (long n : layer) {
                        routed[0] += n;
                    }
                }
            });
            AtomicReference<Throwable> failure = new AtomicReference<>();
            driver.setUncaughtExceptionHandler((t, e) -> failure.set(e));
            driver.start();
            driver.join();
            if (failure.get() != null) {
                throw new AssertionError("driving the engine on cuda:1 from another thread failed", failure.get());
            }
            assertEquals(expected, got);
            assertTrue(routed[0] > 0, "the device's routed counters were read");
        }
    }

    /**
     * The scheduler's call: rows marked greedy come back as the device's argmax with no logits, the others with the
     * logits forward gives, over a prefill of mixed lengths and then pure decode steps (the sampling graph).
     */
    @Test
    void greedyRowsArePickedOnTheDeviceAndTheOthersGetTheirLogits() {
        ModelConfig config = new ModelConfig(TestModels.VOCAB, 64, 2, 4, 128, 40, false, 10000, 1e-5, TestModels.switchUnbounded());
        ModelWeights w = weights(config, 12);
        try (CudaEngine plain = new CudaEngine(w, device, new CudaEngine.Options(4, 0, 4, 64, true));
                CudaEngine picking = new CudaEngine(w, device, new CudaEngine.Options(4, 0, 4, 64, true))) {
            List<Sequence> ps = new ArrayList<>();
            List<Sequence> qs = new ArrayList<>();
            List<int[]> inputs = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                ps.add(plain.newSequence());
                qs.add(picking.newSequence());
                inputs.add(TestModels.tokens(30 + i, 2 + i));
            }
            boolean[] greedy = {true, false, true, false};
            for (int step = 0; step < 6; step++) {
                List<Engine.Step> p = new ArrayList<>();
                List<Engine.Step> q = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    p.add(new Engine.Step(ps.get(i), inputs.get(i)));
                    q.add(new Engine.Step(qs.get(i), inputs.get(i)));
                }
                float[][] expected = plain.forward(p);
                int[] tokens = new int[4];
                float[][] got = picking.forward(q, greedy, tokens);
                for (int i = 0; i < 4; i++) {
                    int next = TestModels.argmax(expected[i]);
                    if (greedy[i]) {
                        assertNull(got[i], "step " + step + " row " + i + ": a picked row brings no logits");
                        assertEquals(next, tokens[i], "step " + step + " row " + i);
                    } else {
                        assertArrayEquals(expected[i], got[i], "step " + step + " row " + i);
                    }
                    inputs.set(i, new int[] {next});
                }
                if (step == 3) {
                    greedy = new boolean[] {true, true, true, true};
                }
            }
        }
    }

    @Test
    void samplingIsReproducibleAndANarrowNucleusIsGreedy() {
        ModelConfig config = new ModelConfig(TestModels.VOCAB, 64, 2, 4, 128, 40, false, 10000, 1e-5, TestModels.dense());
        ModelWeights w = weights(config, 6);
        try (CudaEngine gpu = new CudaEngine(w, device, new CudaEngine.Options(4, 0, 4, 64, true))) {
            int[] prompt = TestModels.tokens(4, 6);
            int[] a = run(gpu, prompt, new CudaEngine.Sampling(1.0f, 1.0f, 42));
            int[] b = run(gpu, prompt, new CudaEngine.Sampling(1.0f, 1.0f, 42));
            assertArrayEquals(a, b, "same seed, same tokens");
            int[] greedy = run(gpu, prompt, CudaEngine.Sampling.GREEDY);
            int[] narrow = run(gpu, prompt, new CudaEngine.Sampling(0.8f, 1e-6f, 7));
            assertArrayEquals(greedy, narrow, "a nucleus of mass 1e-6 holds only the most probable token");
            for (int t : a) {
                assertTrue(t >= 0 && t < TestModels.VOCAB, "token " + t);
            }
        }
    }

    private static int[] run(CudaEngine gpu, int[] prompt, CudaEngine.Sampling sampling) {
        try (Sequence s = gpu.newSequence()) {
            int[] out = new int[16];
            int next = gpu.decode(List.of(new Engine.Step(s, prompt)), List.of(sampling))[0];
            for (int i = 0; i < out.length; i++) {
                out[i] = next;
                next = gpu.decode(List.of(new Engine.Step(s, new int[] {next})), List.of(sampling))[0];
            }
            return out;
        }
    }

    @Test
    void badCallsFailClearlyAndChangeNothing() {
        ModelConfig config = TestModels.config(TestModels.dense());
        ModelWeights w = weights(config, 3);
        try (CudaEngine gpu = new CudaEngine(w, device, new CudaEngine.Options(4, 3, 4, 64, true))) {
            Sequence s = gpu.newSequence();
            var tooLong = assertThrows(ContextLengthException.class,
                    () -> gpu.forward(List.of(new Engine.Step(s, new int[config.contextLength() + 1]))));
            assertTrue(tooLong.getMessage().contains("context length"), tooLong.getMessage());
            var badId = assertThrows(IllegalArgumentException.class,
                    () -> gpu.forward(List.of(new Engine.Step(s, new int[] {TestModels.VOCAB}))));
            assertTrue(badId.getMessage().contains("outside the vocabulary"), badId.getMessage());
            gpu.forward(List.of(new Engine.Step(s, new int[12])));
            assertEquals(0, gpu.kvPool().freeBlocks());
            Sequence other = gpu.newSequence();
            assertThrows(KvCacheFullException.class, () -> gpu.forward(List.of(new Engine.Step(other, new int[] {1}))));
            assertEquals(0, other.length(), "a refused call appends nothing");
            s.close();
            assertEquals(3, gpu.kvPool().freeBlocks(), "closing a sequence frees its blocks");
            assertEquals(1, gpu.forward(List.of(new Engine.Step(other, new int[] {1}))).length);
        }
    }
}
