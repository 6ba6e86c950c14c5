package dev.switchback.cli.bench;

import dev.switchback.store.TensorNames;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.HashRouting;
import dev.switchback.store.model.ModelConfig;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Models with random weights of any config, for benchmarks of sizes we do not train: the same tensors both our
 * engine and the DJL baseline load, so both compute the same function.
 */
public final class RandomModels {
    private RandomModels() {}

    /** Tensors and shapes of a random model. */
    public record Weights(ModelConfig config, Map<String, float[]> values, Map<String, long[]> shapes, HashRouting hash) {
        /** The integer tensors (the hash table) as a map. */
        public Map<String, int[]> ints() {
            return hash == null || !TensorNames.hasHashTable(config) ? Map.of() : Map.of(TensorNames.HASH_TABLE, hash.table());
        }
    }

    /** Uniform values with the variance of N(0, 1/fan_in) for matrices, gains of 1 for norms. */
    public static Weights generate(ModelConfig config, long seed) {
        Map<String, long[]> shapes = new LinkedHashMap<>(TensorNames.sharedShapes(config));
        for (int l = 0; l < config.layers(); l++) {
            if (config.architecture().isSparseLayer(l)) {
                shapes.putAll(TensorNames.expertShapes(config, l));
            }
        }
        shapes.remove(TensorNames.HASH_TABLE);
        Map<String, float[]> values = new LinkedHashMap<>();
        SplittableRandom rng = new SplittableRandom(seed);
        for (var e : shapes.entrySet()) {
            long[] shape = e.getValue();
            int n = (int) (shape.length == 1 ? shape[0] : shape[0] * shape[1]);
            float[] v = new float[n];
            if (shape.length == 1) {
                java.util.Arrays.fill(v, 1f);
            } else {
                // Uniform on [−a, a] has variance a²/3; a = √(3/fan_in) gives 1/fan_in.
                float a = (float) Math.sqrt(3.0 / shape[1]);
                for (int i = 0; i < n; i++) {
                    v[i] = (float) (rng.nextDouble(-1, 1)) * a;
                }
            }
            values.put(e.getKey(), v);
        }
        HashRouting hash = null;
        if (config.architecture().sparse() instanceof Architecture.Hash h) {
            hash = HashRouting.build(h.table(), h.experts(), new long[config.vocabSize()], h.seed());
        }
        return new Weights(config, values, shapes, hash);
    }
}
