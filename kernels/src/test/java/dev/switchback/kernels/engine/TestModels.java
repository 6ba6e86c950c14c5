package dev.switchback.kernels.engine;

import dev.switchback.kernels.cpu.Parallel;
import dev.switchback.store.ModelStore;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.Publication;
import dev.switchback.store.PublishedModel;
import dev.switchback.store.TensorNames;
import dev.switchback.store.TinyModels;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.safetensors.DType;
import java.io.IOException;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * Small random models for engine tests: in memory with weights scaled so every part of the network moves the
 * logits by O(1) (TinyModels' 0.02 weights leave attention almost invisible), or as a published folder
 * through {@link TinyModels}.
 */
final class TestModels {
    static final int VOCAB = 40;

    private TestModels() {}

    /** Vocabulary 40, width 12 (head size 6, FFN 20: none a multiple of the vector width), 2 blocks, context 24. */
    static ModelConfig config(Architecture architecture) {
        return new ModelConfig(VOCAB, 12, 2, 2, 20, 24, false, 10000, 1e-5, architecture);
    }

    static Architecture dense() {
        return new Architecture.Dense();
    }

    /** Switch in every 2nd block with a capacity factor that never drops a token in these tests. */
    static Architecture switchUnbounded() {
        return new Architecture.Switch(4, 2, 1.25, 100.0, 0.01, 1e-3, 0.1, 0.0);
    }

    static Architecture topTwoUnbounded() {
        return new Architecture.TopK(4, 2, 1, 1.25, 100.0, 0.01, 1e-3, 0.1, 0.0);
    }

    static Architecture hashRandom() {
        return new Architecture.Hash(3, 1, Architecture.HashKind.random, 7, 0.0);
    }

    static Architecture hashBigram() {
        return new Architecture.Hash(4, 1, Architecture.HashKind.bigram, 7, 0.0);
    }

    /** Named tensors of a random model: matrices N(0, 1/fan-in), norm gains 1 ± 0.1, embeddings N(0, 1). */
    record Tensors(Map<String, float[]> values, Map<String, long[]> shapes, Map<String, int[]> ints) {
        TensorSource source() {
            return TensorSource.of(values, shapes, ints);
        }

        /** A copy with one tensor removed. */
        Tensors without(String name) {
            Tensors t = copy();
            t.values.remove(name);
            t.shapes.remove(name);
            t.ints.remove(name);
            return t;
        }

        /** A copy claiming another shape (and holding that many values) for one tensor. */
        Tensors reshaped(String name, long... shape) {
            Tensors t = copy();
            long n = 1;
            for (long s : shape) {
                n *= s;
            }
            t.values.put(name, new float[(int) n]);
            t.shapes.put(name, shape);
            return t;
        }

        private Tensors copy() {
            return new Tensors(new HashMap<>(values), new HashMap<>(shapes), new HashMap<>(ints));
        }
    }

    static Tensors tensors(ModelConfig config, long seed) {
        Random random = new Random(seed);
        Map<String, long[]> shapes = new LinkedHashMap<>(TensorNames.sharedShapes(config));
        for (int l = 0; l < config.layers(); l++) {
            if (config.architecture().isSparseLayer(l)) {
                shapes.putAll(TensorNames.expertShapes(config, l));
            }
        }
        Map<String, float[]> values = new HashMap<>();
        Map<String, int[]> ints = new HashMap<>();
        for (var e : shapes.entrySet()) {
            long[] shape = e.getValue();
            int n = 1;
            for (long s : shape) {
                n *= (int) s;
            }
            if (e.getKey().equals(TensorNames.HASH_TABLE)) {
                ints.put(e.getKey(), random.ints(n, 0, config.architecture().sparse().experts()).toArray());
                continue;
            }
            float[] v = new float[n];
            boolean gain = shape.length == 1;
            boolean embedding = e.getKey().equals(TensorNames.TOK_EMB);
            double sigma = gain ? 0.1 : embedding ? 1 : 1 / Math.sqrt(shape[1]);
            for (int i = 0; i < n; i++) {
                v[i] = (float) ((gain ? 1 : 0) + random.nextGaussian() * sigma);
            }
            values.put(e.getKey(), v);
        }
        return new Tensors(values, new HashMap<>(shapes), ints);
    }

    /** An engine on one thread over in-memory random weights. */
    static Engine engine(ModelConfig config, long seed, Engine.Options options) {
        ModelWeights w = ModelWeights.load(config, tensors(config, seed).source(), options.format());
        return new Engine(w, new CpuBackend(new Parallel(1)), null, options);
    }

    static Engine engine(Architecture architecture, long seed, Engine.Options options) {
        return engine(config(architecture), seed, options);
    }

    /** Writes a TinyModels folder for {@code config}, publishes and opens it. */
    static OpenedModel publish(ModelStore store, String name, ModelConfig config, DType dtype, long seed) throws IOException {
        PublishedModel published;
        try (Publication p = store.begin(name)) {
            TinyModels.write(p.dir(), name, config, dtype, seed);
            published = p.commit();
        }
        return store.open(published.dir());
    }

    /** max |a − b| over max |a|: the relative difference of two logit vectors. */
    static double relativeDifference(float[] a, float[] b) {
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < a.length; i++) {
            diff = Math.max(diff, Math.abs(a[i] - b[i]));
            scale = Math.max(scale, Math.abs(a[i]));
        }
        return diff / scale;
    }

    /**
     * Logits equal up to float reordering: runs of the same operations agree to the bit on x86, but the Vector
     * API leaves a lane reduction's order to the implementation, which may change as the JIT compiles a kernel.
     */
    static void assertSameLogits(float[] expected, float[] actual, String what) {
        org.junit.jupiter.api.Assertions.assertEquals(expected.length, actual.length, what);
        double d = relativeDifference(expected, actual);
        org.junit.jupiter.api.Assertions.assertTrue(d <= 1e-6, what + ": relative difference " + d);
    }

    static int[] tokens(long seed, int n) {
        return new Random(seed).ints(n, 0, VOCAB).toArray();
    }

    /** Index of the largest value (the first of equals): a greedy pick. */
    static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }
}
