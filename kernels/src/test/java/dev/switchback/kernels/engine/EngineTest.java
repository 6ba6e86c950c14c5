package dev.switchback.kernels.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.kernels.cpu.Parallel;
import dev.switchback.kernels.kv.KvFormat;
import dev.switchback.kernels.routing.ExpertStats;
import dev.switchback.store.ModelStore;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.TinyModels;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.safetensors.DType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The engine agrees with itself however a prompt is cut into calls and however sequences are batched: the
 * results may differ only by float reordering (the 4-token matmul blocks against the single-token path), held
 * to 1e-5 of the largest logit.
 */
class EngineTest {
    private static final double TOLERANCE = 1e-5;

    /** Prompt of 6 tokens: in one call, as 3 + 2 + 1, and one token at a time. */
    private static void assertChunkingDoesNotMatter(Engine engine, int[] prompt, String what) {
        Sequence whole = engine.newSequence();
        float[] oneCall = engine.prefill(whole, prompt);
        List<float[]> pieces = new ArrayList<>();
        for (int[] cut : new int[][] {{3, 2, 1}, {1, 1, 1, 1, 1, 1}, {4, 2}, {5, 1}}) {
            Sequence s = engine.newSequence();
            int at = 0;
            float[] last = null;
            for (int n : cut) {
                int[] chunk = java.util.Arrays.copyOfRange(prompt, at, at + n);
                last = engine.forward(List.of(new Engine.Step(s, chunk)))[0];
                at += n;
                // Each chunk's logits are those of a one-call prefill of the prompt so far.
                Sequence fresh = engine.newSequence();
                float[] prefix = engine.prefill(fresh, java.util.Arrays.copyOf(prompt, at));
                fresh.close();
                double d = TestModels.relativeDifference(prefix, last);
                assertTrue(d <= TOLERANCE, what + ", cut " + java.util.Arrays.toString(cut) + " after " + at + ": " + d);
            }
            assertArrayEquals(prompt, s.tokens());
            pieces.add(last);
            s.close();
        }
        for (float[] p : pieces) {
            double d = TestModels.relativeDifference(oneCall, p);
            assertTrue(d <= TOLERANCE, what + ": chunked vs one call differ by " + d);
        }
        whole.close();
        assertEquals(engine.kvPool().totalBlocks(), engine.kvPool().freeBlocks(), what + ": closed sequences free their blocks");
    }

    static Stream<Architecture> architectures() {
        return Stream.of(TestModels.dense(), TestModels.hashRandom(), TestModels.hashBigram(), TestModels.switchUnbounded(),
                TestModels.topTwoUnbounded(), new Architecture.Ladder(2, TestModels.dense()),
                new Architecture.Ladder(2, TestModels.hashBigram()), new Architecture.Ladder(3, TestModels.topTwoUnbounded()));
    }

    /** Block sizes 2 and 3 make the prompt straddle KV blocks; 16 keeps it in one. */
    @ParameterizedTest
    @MethodSource("architectures")
    void chunkedPrefillEqualsOneCall(Architecture architecture) {
        for (int bs : new int[] {2, 3, 16}) {
            Engine engine = TestModels.engine(architecture, 11, new Engine.Options(null, bs, 0, 3));
            assertChunkingDoesNotMatter(engine, new int[] {5, 17, 5, 33, 0, 39}, architecture.kind() + ", KV blocks of " + bs);
        }
    }

    @ParameterizedTest
    @MethodSource("architectures")
    void kvBlockSizeDoesNotChangeTheLogits(Architecture architecture) {
        int[] prompt = TestModels.tokens(12, 17);
        float[] reference = null;
        for (int bs : new int[] {1, 4, 5, 32}) {
            Engine engine = TestModels.engine(architecture, 12, new Engine.Options(null, bs, 0, 1));
            float[] logits = engine.prefill(engine.newSequence(), prompt);
            if (reference == null) {
                reference = logits;
            }
            TestModels.assertSameLogits(reference, logits, "block size " + bs + " only changes where keys are stored");
        }
    }

    /**
     * A BF16 KV cache rounds each stored key and value (relative step 2⁻⁸): over a prompt and decode steps the logits
     * stay within 1e-2 of the F32 cache's relative to their largest, the tolerance BF16 weights get, in half the bytes.
     */
    @ParameterizedTest
    @MethodSource("architectures")
    void aBf16KvCacheStaysWithinBf16ToleranceOfF32(Architecture architecture) {
        Engine exact = TestModels.engine(architecture, 15, new Engine.Options(null, 4, 0, 1));
        Engine half = TestModels.engine(architecture, 15, new Engine.Options(null, 4, 0, 1).withKvFormat(KvFormat.BF16));
        assertEquals(exact.kvPool().blockBytes() / 2, half.kvPool().blockBytes());
        Sequence a = exact.newSequence();
        Sequence b = half.newSequence();
        int[] prompt = TestModels.tokens(4, 14);
        float[] x = exact.prefill(a, prompt);
        float[] y = half.prefill(b, prompt);
        double worstRatio = 0;
        boolean anyDifference = false;
        for (int step = 0; step < 8; step++) {
            double worst = 0;
            double scale = 0;
            for (int i = 0; i < x.length; i++) {
                worst = Math.max(worst, Math.abs(x[i] - y[i]));
                scale = Math.max(scale, Math.abs(x[i]));
            }
            anyDifference |= worst > 0;
            worstRatio = Math.max(worstRatio, worst / scale);
            int next = (7 * step + 3) % exact.config().vocabSize();
            x = exact.forward(List.of(new Engine.Step(a, new int[] {next})))[0];
            y = half.forward(List.of(new Engine.Step(b, new int[] {next})))[0];
        }
        assertTrue(worstRatio <= 1e-2, architecture.kind() + ": " + worstRatio);
        assertTrue(anyDifference, "the cache really held rounded values");
    }

    /** Sequences in one call (a prompt chunk beside decode steps) get what each gets alone. */
    @ParameterizedTest
    @MethodSource("architectures")
    void batchingDoesNotMixSequences(Architecture architecture) {
        Engine engine = TestModels.engine(architecture, 13, new Engine.Options(null, 4, 0, 6));
        int[] p1 = TestModels.tokens(1, 7);
        int[] p2 = TestModels.tokens(2, 3);
        int[] p3 = TestModels.tokens(3, 5);
        Sequence a = engine.newSequence();
        Sequence b = engine.newSequence();
        engine.prefill(a, p1);
        engine.prefill(b, p2);
        Sequence c = engine.newSequence();
        float[][] batched = engine.forward(List.of(new Engine.Step(a, new int[] {9}), new Engine.Step(c, p3),
                new Engine.Step(b, new int[] {1, 2})));
        float[][] alone = {
            engine.prefill(engine.newSequence(), concat(p1, new int[] {9})),
            engine.prefill(engine.newSequence(), p3),
            engine.prefill(engine.newSequence(), concat(p2, new int[] {1, 2})),
        };
        for (int i = 0; i < 3; i++) {
            double d = TestModels.relativeDifference(alone[i], batched[i]);
            assertTrue(d <= TOLERANCE, architecture.kind() + ", step " + i + ": batched vs alone " + d);
        }
        assertEquals(8, a.length());
        assertEquals(5, b.length());
        assertEquals(5, c.length());
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** The brief's check on the published format: TinyModels folders (weights N(0, 0.02)) for dense and hash. */
    @Test
    void tinyModelFoldersGiveTheSameLogitsChunkedOrNot(@TempDir Path dir) throws Exception {
        ModelStore store = new ModelStore(dir);
        ModelConfig dense = new ModelConfig(32, 8, 2, 2, 16, 16, false, 10000, 1e-5, new Architecture.Dense());
        ModelConfig bigram = new ModelConfig(32, 8, 2, 2, 16, 16, false, 10000, 1e-5,
                new Architecture.Hash(4, 1, Architecture.HashKind.bigram, 7, 0.0));
        Map<String, ModelConfig> configs = Map.of("dense", dense, "hash", TinyModels.hashConfig(), "bigram", bigram);
        for (var e : configs.entrySet()) {
            try (OpenedModel model = TestModels.publish(store, e.getKey(), e.getValue(), DType.F32, 21)) {
                for (int bs : new int[] {2, 16}) {
                    Engine engine = Engine.load(model, new Engine.Options(null, bs, 0, 3));
                    assertChunkingDoesNotMatter(engine, new int[] {3, 1, 4, 1, 5, 9}, e.getKey() + " folder, blocks of " + bs);
                }
            }
        }
    }

    @Test
    void bf16WeightsComputeAsTheirWidenedF32Values(@TempDir Path dir) throws Exception {
        try (OpenedModel model = TestModels.publish(new ModelStore(dir), "bf16", TinyModels.switchConfig(), DType.BF16, 22)) {
            Engine bf16 = Engine.load(model, Engine.Options.defaults());
            Engine f32 = Engine.load(model, Engine.Options.defaults().withFormat(WeightFormat.F32));
            assertEquals(WeightFormat.BF16, bf16.weights().format());
            assertEquals(WeightFormat.F32, f32.weights().format());
            int[] prompt = {1, 2, 3, 4, 5, 6, 7};
            double d = TestModels.relativeDifference(f32.prefill(f32.newSequence(), prompt), bf16.prefill(bf16.newSequence(), prompt));
            assertTrue(d <= TOLERANCE, "BF16 kernels vs F32 kernels on the same (widened) weights: " + d);
        }
    }

    @Test
    void aLadderHasACacheSlotPerPassAndLayer() {
        for (int passes : new int[] {1, 2, 3}) {
            Architecture arch = passes == 1 ? TestModels.dense() : new Architecture.Ladder(passes, TestModels.dense());
            Engine engine = TestModels.engine(arch, 14, new Engine.Options(null, 8, 0, 2));
            assertEquals(passes * engine.config().layers(), engine.kvPool().slots(), passes + " passes");
            assertEquals(engine.config().dModel(), engine.kvPool().dim());
            assertEquals(2 * 3, engine.kvPool().totalBlocks(), "⌈24 / 8⌉ blocks for each of 2 sequences");
        }
        Engine one = TestModels.engine(TestModels.dense(), 14, Engine.Options.defaults());
        Engine two = TestModels.engine(new Architecture.Ladder(2, TestModels.dense()), 14, Engine.Options.defaults());
        int[] prompt = {1, 2, 3};
        double d = TestModels.relativeDifference(one.prefill(one.newSequence(), prompt), two.prefill(two.newSequence(), prompt));
        assertTrue(d > 1e-2, "the second pass changes the output: " + d);
    }

    @Test
    void expertStatsCountEveryAssignmentOfEveryPass() {
        Engine engine = TestModels.engine(new Architecture.Ladder(2, TestModels.topTwoUnbounded()), 15, Engine.Options.defaults());
        engine.prefill(engine.newSequence(), TestModels.tokens(15, 5));
        engine.prefill(engine.newSequence(), TestModels.tokens(16, 3));
        ExpertStats stats = engine.expertStats();
        for (int l = 0; l < 2; l++) {
            long total = 0;
            for (int e = 0; e < 4; e++) {
                total += stats.routed(l, e) + stats.dropped(l, e);
                assertEquals(0, stats.dropped(l, e), "capacity factor 100 drops nothing");
                assertTrue(stats.routed(l, e) == 0 || stats.computeNanos(l, e) > 0, "time is recorded where work was done");
            }
            assertEquals(2L * 2 * (5 + 3), total, "2 passes × top-2 × 8 tokens in layer " + l);
        }
    }

    @Test
    void expertsSpreadOverBackendsGiveTheSameLogits() {
        ModelConfig config = TestModels.config(TestModels.topTwoUnbounded());
        TestModels.Tensors t = TestModels.tensors(config, 16);
        Parallel one = new Parallel(1);
        Engine single = new Engine(ModelWeights.load(config, t.source(), null), new CpuBackend(one), null, Engine.Options.defaults());
        List<Backend> backends = List.of(new CpuBackend(one, "cpu:0"), new CpuBackend(one, "cpu:1"), new CpuBackend(one, "cpu:2"));
        ExpertPlacement spread = ExpertPlacement.roundRobin(backends, config.layers(), 4);
        Engine split = new Engine(ModelWeights.load(config, t.source(), null), new CpuBackend(one), spread, Engine.Options.defaults());
        assertEquals(Map.of("cpu:0", List.of("0:0", "0:3", "1:0", "1:3"), "cpu:1", List.of("0:1", "1:1"),
                "cpu:2", List.of("0:2", "1:2")), split.placement().describe());
        assertEquals(Map.of("cpu", List.of("0:0", "0:1", "0:2", "0:3", "1:0", "1:1", "1:2", "1:3")), single.placement().describe());
        int[] prompt = TestModels.tokens(16, 9);
        TestModels.assertSameLogits(single.prefill(single.newSequence(), prompt), split.prefill(split.newSequence(), prompt),
                "where an expert runs does not change what it computes");
    }

    /** A backend that counts the tokens its expert FFNs compute (the work itself runs on the CPU backend). */
    private record CountingBackend(CpuBackend cpu, java.util.concurrent.atomic.AtomicLong tokens) implements Backend {
        @Override
        public String device() {
            return cpu.device();
        }

        @Override
        public void linear(float[] x, int n, dev.switchback.kernels.tensor.Matrix w, float[] y) {
            cpu.linear(x, n, w, y);
        }

        @Override
        public void feedForward(float[] x, int n, dev.switchback.kernels.tensor.Matrix w1, dev.switchback.kernels.tensor.Matrix w2,
                float[] out) {
            tokens.addAndGet(n);
            cpu.feedForward(x, n, w1, w2, out);
        }
    }

    @Test
    void replicatedExpertsSplitTheirTokensAndGiveTheSameLogits() {
        ModelConfig config = TestModels.config(TestModels.topTwoUnbounded());
        TestModels.Tensors t = TestModels.tensors(config, 16);
        Parallel one = new Parallel(1);
        Engine single = new Engine(ModelWeights.load(config, t.source(), null), new CpuBackend(one), null, Engine.Options.defaults());
        List<CountingBackend> devices = new java.util.ArrayList<>();
        for (int i = 0; i < 3; i++) {
            devices.add(new CountingBackend(new CpuBackend(one, "cpu:" + i), new java.util.concurrent.atomic.AtomicLong()));
        }
        // Expert 0 on all three devices, expert 1 on two, experts 2 and 3 on one each.
        dev.switchback.kernels.placement.LayerPlacement layer = new dev.switchback.kernels.placement.LayerPlacement(3,
                new int[][] {{0, 1, 2}, {2, 1}, {0}, {1}});
        dev.switchback.kernels.placement.LayerPlacement[] byLayer = new dev.switchback.kernels.placement.LayerPlacement[config.layers()];
        java.util.Arrays.fill(byLayer, layer);
        ExpertPlacement placement = ExpertPlacement.of(List.<Backend>copyOf(devices), 4, byLayer);
        assertEquals(List.of("cpu:0", "cpu:1", "cpu:2"), placement.replicas(0, 0).stream().map(Backend::device).toList());
        Engine split = new Engine(ModelWeights.load(config, t.source(), null), new CpuBackend(one), placement, Engine.Options.defaults());
        int[] prompt = TestModels.tokens(16, 9);
        TestModels.assertSameLogits(single.prefill(single.newSequence(), prompt), split.prefill(split.newSequence(), prompt),
                "splitting an expert's tokens over its replicas does not change what it computes");
        long[] expected = new long[3];
        long routed = 0;
        for (int l = 0; l < config.layers(); l++) {
            long[] counts = new long[4];
            for (int e = 0; e < 4; e++) {
                counts[e] = split.expertStats().routed(l, e);
                routed += counts[e];
            }
            long[] load = layer.deviceLoad(counts); // one step, so the totals split as each step's groups did
            for (int d = 0; d < 3; d++) {
                expected[d] += load[d];
            }
        }
        assertTrue(routed > 0);
        assertEquals(routed, devices.stream().mapToLong(d -> d.tokens().get()).sum(), "every routed token computed once");
        for (int d = 0; d < 3; d++) {
            assertEquals(expected[d], devices.get(d).tokens().get(), "tokens computed on cpu:" + d);
        }
        assertEquals("cpu:0+cpu:1+cpu:2", split.expertDevice(1, 0));
        assertEquals("cpu:2+cpu:1", split.expertDevice(1, 1));
        assertEquals("cpu:1", split.expertDevice(1, 3));
        // F32 weights: the model once, plus the extra copies (two of expert 0, one of expert 1) in each sparse layer.
        long expertBytes = 4L * 2 * config.dModel() * config.dFf();
        long sparseLayers = java.util.stream.IntStream.range(0, config.layers()).filter(config.architecture()::isSparseLayer).count();
        Map<String, Long> bytes = split.deviceBytes();
        assertEquals(4 * config.totalParameters() + 3 * sparseLayers * expertBytes, bytes.values().stream().mapToLong(Long::longValue).sum());
        assertEquals(sparseLayers * 2 * expertBytes, (long) bytes.get("cpu:2"), "cpu:2 holds experts 0 and 1 of each sparse layer");
        assertEquals(Map.of("cpu", 4 * config.totalParameters()), single.deviceBytes());
        IllegalArgumentException shortPlacement = assertThrows(IllegalArgumentException.class, () -> new Engine(
                ModelWeights.load(config, t.source(), null), new CpuBackend(one),
                ExpertPlacement.of(List.<Backend>copyOf(devices), 4, java.util.Arrays.copyOf(byLayer, config.layers() - 1)),
                Engine.Options.defaults()));
        assertTrue(shortPlacement.getMessage().contains("covers " + (config.layers() - 1) + " layers"), shortPlacement.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ExpertPlacement.of(List.<Backend>copyOf(devices).subList(0, 2), 4, byLayer),
                "a placement over three devices needs three backends");
    }
}
