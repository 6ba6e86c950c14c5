package dev.switchback.server.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.kernels.engine.Engine;
import dev.switchback.kernels.engine.Sequence;
import dev.switchback.kernels.engine.StepEngine;
import dev.switchback.kernels.kv.KvFormat;
import dev.switchback.server.models.ServableModels;
import dev.switchback.store.ModelStore;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.TinyModels;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.onnx.OnnxExport;
import dev.switchback.store.safetensors.DType;
import dev.switchback.store.Publication;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * ONNX Runtime on an export computes the native engine's logits: within 1e-4 of the largest logit, for whole
 * prompts, token-by-token decoding over past key/values, batches mixing both, and sequences on a shared prefix.
 */
class OnnxParityTest {
    /** max |onnx − native| over a logit vector, relative to max |native|. */
    static final double TOLERANCE = 1e-4;

    @TempDir
    static Path root;
    static List<Pair> pairs = new ArrayList<>();

    /** The same weights on both engines. */
    record Pair(String name, Engine nativeEngine, OnnxEngine onnx) {
        @Override
        public String toString() {
            return name;
        }
    }

    @BeforeAll
    static void export() throws IOException {
        ModelStore store = new ModelStore(root.resolve("store"));
        // A dense tiny model with untied embeddings, O(1) logits.
        pairs.add(pair(store, ServableModels.publish(store, "tiny-dense", new Architecture.Dense(), 21)));
        // A student of switch-tiny: the teacher's shape (d 128, 4 blocks of 4 heads, FFN 512, tied) with dense FFNs.
        ModelConfig student = new ModelConfig(4096, 128, 4, 4, 512, 128, true, 10000, 1e-5, new Architecture.Dense());
        pairs.add(pair(store, ServableModels.publish(store, "student-dense", student, 22)));
        // Stored as BF16: the export widens exactly as the engine does.
        try (Publication p = store.begin("bf16-dense")) {
            TinyModels.write(p.dir(), "bf16-dense", new ModelConfig(64, 32, 2, 4, 64, 64, false, 500, 1e-6,
                    new Architecture.Dense()), DType.BF16, 23);
            pairs.add(pair(store, p.commit().dir()));
        }
    }

    @AfterAll
    static void close() {
        pairs.forEach(p -> p.onnx().close());
    }

    static Stream<Pair> pairs() {
        return pairs.stream();
    }

    private static Pair pair(ModelStore store, Path dir) {
        try (OpenedModel opened = store.open(dir)) {
            Path file = root.resolve(opened.manifest().name() + ".onnx");
            OnnxExport.write(opened, file);
            Engine.Options options = Engine.Options.defaults().withMaxSequences(4);
            return new Pair(opened.manifest().name(), Engine.load(opened, options),
                    OnnxEngine.open(file, opened.config(), options, 1));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static int[] tokens(ModelConfig config, int n, long seed) {
        return new SplittableRandom(seed).ints(n, 0, config.vocabSize()).toArray();
    }

    static void assertClose(float[] expected, float[] actual, String what) {
        double error = Parity.relativeError(expected, actual);
        assertTrue(error <= TOLERANCE, what + ": max |onnx - native| is " + error + " of max |logit|");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("pairs")
    void wholePromptsGiveTheSameLogits(Pair p) {
        ModelConfig config = p.nativeEngine().config();
        for (int n : new int[] {1, 5, 17, config.contextLength() - 1}) {
            int[] prompt = tokens(config, n, n);
            try (Sequence a = p.nativeEngine().newSequence(); Sequence b = p.onnx().newSequence()) {
                assertClose(p.nativeEngine().prefill(a, prompt), p.onnx().prefill(b, prompt), p + ", prompt of " + n);
                assertEquals(n, b.length());
            }
        }
    }

    /**
     * With BF16 KV caches both engines read rounded past keys and values; ONNX Runtime attends to the newest position
     * unrounded where the native engine reads it back from the cache, so they agree to BF16's tolerance, not F32's.
     */
    @Test
    void aBf16KvCacheDecodesWithinBf16Tolerance() throws IOException {
        ModelStore store = new ModelStore(root.resolve("store-bf16-kv"));
        Path dir = ServableModels.publish(store, "tiny-dense-bf16-kv", new Architecture.Dense(), 24);
        try (OpenedModel opened = store.open(dir)) {
            Path file = root.resolve("tiny-dense-bf16-kv.onnx");
            OnnxExport.write(opened, file);
            Engine.Options options = Engine.Options.defaults().withMaxSequences(2).withKvFormat(KvFormat.BF16);
            Engine nativeEngine = Engine.load(opened, options);
            try (OnnxEngine onnx = OnnxEngine.open(file, opened.config(), options, 1);
                    Sequence a = nativeEngine.newSequence(); Sequence b = onnx.newSequence()) {
                assertEquals(KvFormat.BF16, onnx.sequences().pool().format());
                int[] prompt = tokens(opened.config(), 20, 5);
                float[] expected = nativeEngine.prefill(a, prompt);
                float[] actual = onnx.prefill(b, prompt);
                for (int step = 0; step < 16; step++) {
                    double error = Parity.relativeError(expected, actual);
                    assertTrue(error <= 1e-2, "decode step " + step + ": " + error);
                    int next = Parity.argmax(expected);
                    expected = nativeEngine.forward(List.of(new Engine.Step(a, new int[] {next})))[0];
                    actual = onnx.forward(List.of(new Engine.Step(b, new int[] {next})))[0];
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("pairs")
    void tokenByTokenDecodingOverPastKeyValuesGivesTheSameLogits(Pair p) {
        ModelConfig config = p.nativeEngine().config();
        // Long enough to cross 64 positions where the context allows: the ONNX engine's per-sequence copy then grows.
        int[] prompt = tokens(config, Math.min(50, config.contextLength() - 30), 3);
        try (Sequence a = p.nativeEngine().newSequence(); Sequence b = p.onnx().newSequence()) {
            float[] expected = p.nativeEngine().prefill(a, prompt);
            float[] actual = p.onnx().prefill(b, prompt);
            for (int step = 0; step < 24; step++) {
                assertClose(expected, actual, p + ", decode step " + step);
                int next = Parity.argmax(expected);
                expected = p.nativeEngine().forward(List.of(new Engine.Step(a, new int[] {next})))[0];
                actual = p.onnx().forward(List.of(new Engine.Step(b, new int[] {next})))[0];
            }
            assertEquals(prompt.length + 24, b.length());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("pairs")
    void batchesMixingDecodeAndPromptChunksOfDifferentLengthsGiveTheSameLogits(Pair p) {
        ModelConfig config = p.nativeEngine().config();
        List<float[]> expected = mixedBatch(p.nativeEngine(), config);
        List<float[]> actual = mixedBatch(p.onnx(), config);
        for (int i = 0; i < expected.size(); i++) {
            assertClose(expected.get(i), actual.get(i), p + ", mixed batch output " + i);
        }
    }

    /** Three sequences at different lengths, stepped together: decodes, a chunk, a new prompt, then decodes. */
    private static List<float[]> mixedBatch(StepEngine engine, ModelConfig config) {
        List<float[]> out = new ArrayList<>();
        try (Sequence a = engine.newSequence(); Sequence b = engine.newSequence(); Sequence c = engine.newSequence()) {
            out.addAll(List.of(engine.forward(List.of(new Engine.Step(a, tokens(config, 11, 1)),
                    new Engine.Step(b, tokens(config, 3, 2))))));
            out.addAll(List.of(engine.forward(List.of(new Engine.Step(a, tokens(config, 1, 3)),
                    new Engine.Step(b, tokens(config, 4, 4)), new Engine.Step(c, tokens(config, 6, 5))))));
            for (int i = 0; i < 3; i++) {
                out.addAll(List.of(engine.forward(List.of(new Engine.Step(c, tokens(config, 1, 10 + i)),
                        new Engine.Step(a, tokens(config, 1, 20 + i)), new Engine.Step(b, tokens(config, 1, 30 + i))))));
            }
        }
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("pairs")
    void aSequenceOnASharedPrefixReadsTheCachedKeysAndValues(Pair p) {
        ModelConfig config = p.nativeEngine().config();
        int block = p.onnx().kvPool().blockSize();
        int[] prompt = tokens(config, 2 * block + 3, 9);
        int[] prefix = java.util.Arrays.copyOf(prompt, 2 * block);
        int[] rest = java.util.Arrays.copyOfRange(prompt, 2 * block, prompt.length);
        float[] expected;
        try (Sequence a = p.nativeEngine().newSequence()) {
            expected = p.nativeEngine().prefill(a, prompt);
        }
        try (Sequence owner = p.onnx().newSequence()) {
            p.onnx().prefill(owner, prompt);
            int[] blocks = java.util.Arrays.copyOf(owner.cache().blocks(), 2);
            try (Sequence shared = p.onnx().newSequence(prefix, blocks)) {
                assertClose(expected, p.onnx().prefill(shared, rest), p + ", on a shared prefix");
            }
        }
    }
}
