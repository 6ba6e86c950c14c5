package dev.switchback.cli.bench;

import dev.switchback.kernels.cpu.Parallel;
import dev.switchback.kernels.engine.CpuBackend;
import dev.switchback.kernels.engine.Engine;
import dev.switchback.kernels.engine.ModelWeights;
import dev.switchback.kernels.engine.Sequence;
import dev.switchback.kernels.engine.TensorSource;
import dev.switchback.kernels.engine.WeightFormat;
import dev.switchback.kernels.kv.KvFormat;
import dev.switchback.store.ModelFiles;
import dev.switchback.store.ModelManifest;
import dev.switchback.store.ModelStore;
import dev.switchback.store.Provenance;
import dev.switchback.store.Publication;
import dev.switchback.store.PublishedModel;
import dev.switchback.store.ReferenceLogits;
import dev.switchback.store.TensorNames;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.HashRouting;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.safetensors.DType;
import dev.switchback.store.safetensors.SafetensorsWriter;
import dev.switchback.store.safetensors.TensorData;
import dev.switchback.store.tokenizer.BpeTokenizer;
import dev.switchback.trainer.ModelPublisher;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

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

    /** Our engine over random weights, on the shared CPU pool, with an F32 KV cache. */
    public static Engine engine(Weights w, WeightFormat format, int maxSequences) {
        return engine(w, format, maxSequences, KvFormat.F32);
    }

    /** Our engine over random weights, its KV cache stored as {@code kv}. */
    public static Engine engine(Weights w, WeightFormat format, int maxSequences, KvFormat kv) {
        ModelWeights weights = ModelWeights.load(w.config(), TensorSource.of(w.values(), w.shapes(), w.ints()), format);
        return new Engine(weights, new CpuBackend(Parallel.shared()), null,
                Engine.Options.defaults().withFormat(format).withMaxSequences(maxSequences).withKvFormat(kv));
    }

    /**
     * Publishes random weights as a complete model in {@code store}, so a server can load it like a trained one: matrices
     * stored as {@code dtype} (norm gains and routers F32, as the trainer stores them), one experts file per sparse
     * layer, the hash table, {@code tokenizer} (its vocabulary must be the config's), and reference logits computed by
     * our engine from the stored weights. The provenance says the weights are random and names {@code command}.
     */
    public static PublishedModel publish(ModelStore store, String name, Weights w, DType dtype, Path tokenizer, String command)
            throws IOException {
        ModelConfig config = w.config();
        BpeTokenizer bpe = BpeTokenizer.load(tokenizer);
        if (bpe.vocabSize() != config.vocabSize()) {
            throw new IllegalArgumentException("tokenizer " + tokenizer + " has " + bpe.vocabSize() + " tokens but the config's"
                    + " vocabulary is " + config.vocabSize());
        }
        try (Publication pub = store.begin(name)) {
            List<TensorData> shared = new ArrayList<>();
            Map<Integer, List<TensorData>> experts = new TreeMap<>();
            Map<String, float[]> stored = new LinkedHashMap<>();
            for (var e : w.values().entrySet()) {
                long[] shape = w.shapes().get(e.getKey());
                boolean keepF32 = shape.length == 1 || e.getKey().endsWith("router.weight");
                TensorData data = TensorData.ofFloats(e.getKey(), shape, e.getValue(), keepF32 ? DType.F32 : dtype);
                stored.put(e.getKey(), keepF32 || dtype == DType.F32 ? e.getValue() : data.toFloats()); // what a load reads back
                int layer = ModelPublisher.expertLayer(e.getKey());
                if (layer >= 0) {
                    experts.computeIfAbsent(layer, l -> new ArrayList<>()).add(data);
                } else {
                    shared.add(data);
                }
            }
            for (var e : w.ints().entrySet()) {
                shared.add(TensorData.ofInts(e.getKey(), new long[] {e.getValue().length}, e.getValue()));
            }
            SafetensorsWriter.write(pub.dir().resolve(ModelFiles.WEIGHTS), shared, Map.of("format", "pt"));
            for (var e : experts.entrySet()) {
                SafetensorsWriter.write(pub.dir().resolve(ModelFiles.experts(e.getKey())), e.getValue(), Map.of("format", "pt"));
            }
            Files.copy(tokenizer, pub.dir().resolve(ModelFiles.TOKENIZER));
            referenceLogits(new Weights(config, stored, w.shapes(), w.hash()), bpe).write(pub.dir().resolve(ModelFiles.REFERENCE));
            Provenance provenance = new Provenance(null, null, 0, 0, null, null, null, command, Instant.now().toString(), null);
            ModelManifest.of(name, config, dtype, ModelPublisher.CHAT_TEMPLATE, provenance).write(pub.dir().resolve(ModelFiles.MANIFEST));
            return pub.commit();
        }
    }

    /** The trainer's reference prompts' next-token logits, computed by our engine in F32 over the stored values. */
    private static ReferenceLogits referenceLogits(Weights stored, BpeTokenizer tokenizer) {
        Engine engine = engine(stored, WeightFormat.F32, 1);
        List<ReferenceLogits.Reference> refs = new ArrayList<>();
        for (String prompt : ModelPublisher.REFERENCE_PROMPTS) {
            int[] tokens = tokenizer.encodeOrdinary(prompt);
            tokens = Arrays.copyOf(tokens, Math.min(tokens.length, stored.config().contextLength()));
            try (Sequence s = engine.newSequence()) {
                refs.add(new ReferenceLogits.Reference(prompt, tokens, engine.prefill(s, tokens)));
            }
        }
        return new ReferenceLogits(refs);
    }

}
