package dev.switchback.store;

import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.safetensors.DType;
import dev.switchback.store.safetensors.SafetensorsWriter;
import dev.switchback.store.safetensors.TensorData;
import dev.switchback.store.tokenizer.BpeTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Tiny, complete, randomly initialised model folders for tests (here and, through the test jar, elsewhere). */
public final class TinyModels {
    private TinyModels() {}

    /** Vocabulary 32, width 8, 2 blocks (block 1 sparse with 4 experts), untied embeddings. */
    public static ModelConfig switchConfig() {
        return new ModelConfig(32, 8, 2, 2, 16, 16, false, 10000, 1e-5, Architecture.Switch.defaults(4));
    }

    /** Like {@link #switchConfig()} but hash-routed (random table) in every block, tied embeddings. */
    public static ModelConfig hashConfig() {
        return new ModelConfig(32, 8, 2, 2, 16, 16, true, 10000, 1e-5,
                new Architecture.Hash(3, 1, Architecture.HashKind.random, 7, 0.0));
    }

    /** Writes every file of a valid model (SHA256SUMS aside) into {@code dir}. */
    public static void write(Path dir, String name, ModelConfig config, DType dtype, long seed) throws IOException {
        Random random = new Random(seed);
        ModelManifest.of(name, config, dtype, null, new Provenance("tiny", null, 3, 96, 3.2, Math.exp(3.2),
                "abc123", "test", "2025-01-01T00:00:00Z", null)).write(dir.resolve(ModelFiles.MANIFEST));
        Files.writeString(dir.resolve(ModelFiles.TOKENIZER), "{\"version\":\"1.0\",\"model\":{\"type\":\"BPE\"}}");
        SafetensorsWriter.write(dir.resolve(ModelFiles.WEIGHTS), tensors(TensorNames.sharedShapes(config), dtype, random),
                Map.of("format", "pt"));
        for (int layer = 0; layer < config.layers(); layer++) {
            if (config.architecture().isSparseLayer(layer)) {
                SafetensorsWriter.write(dir.resolve(ModelFiles.experts(layer)),
                        tensors(TensorNames.expertShapes(config, layer), dtype, random), Map.of());
            }
        }
        float[] logits = new float[config.vocabSize()];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) random.nextGaussian();
        }
        new ReferenceLogits(List.of(new ReferenceLogits.Reference("In the beginning", new int[] {1, 2, 3}, logits)))
                .write(dir.resolve(ModelFiles.REFERENCE));
    }

    /** Publishes a fresh Switch model called {@code name}. */
    public static PublishedModel publish(ModelStore store, String name, long seed) throws IOException {
        try (Publication p = store.begin(name)) {
            write(p.dir(), name, switchConfig(), DType.F32, seed);
            return p.commit();
        }
    }

    /** Text the servable models' tokenizer is trained on. */
    static final String TOKENIZER_TEXT = """
            In the beginning God created the heaven and the earth. And the earth was without form, and void; and
            darkness was upon the face of the deep. And the Spirit of God moved upon the face of the waters. And God
            said, Let there be light: and there was light. And God saw the light, that it was good: and God divided
            the light from the darkness. And God called the light Day, and the darkness he called Night.
            """;

    /** The chat template servable models declare: each message rendered as {@code <|role|>\ncontent\n}. */
    public static final String CHAT_TEMPLATE = "<|{role}|>\n{content}\n";

    /**
     * Publishes a Switch model (random weights, 4 experts in block 1, context 64) with a real byte-level BPE
     * tokenizer of 300 tokens and a chat template, so the engine and the server can run it end to end.
     */
    public static PublishedModel publishServable(ModelStore store, String name, long seed) throws IOException {
        BpeTokenizer tokenizer = BpeTokenizer.train(List.of(TOKENIZER_TEXT), 300, List.of(BpeTokenizer.END_OF_TEXT), null);
        ModelConfig config = new ModelConfig(tokenizer.vocabSize(), 16, 2, 2, 32, 64, false, 10000, 1e-5,
                Architecture.Switch.defaults(4));
        try (Publication p = store.begin(name)) {
            write(p.dir(), name, config, DType.F32, seed);
            ModelManifest.of(name, config, DType.F32, CHAT_TEMPLATE, new Provenance("tiny", null, 3, 96, 3.2, Math.exp(3.2),
                    "abc123", "test", "2025-01-01T00:00:00Z", null)).write(p.dir().resolve(ModelFiles.MANIFEST));
            tokenizer.save(p.dir().resolve(ModelFiles.TOKENIZER));
            return p.commit();
        }
    }

    private static List<TensorData> tensors(Map<String, long[]> shapes, DType dtype, Random random) {
        List<TensorData> out = new ArrayList<>();
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            int n = 1;
            for (long d : e.getValue()) {
                n *= (int) d;
            }
            if (e.getKey().equals(TensorNames.HASH_TABLE)) {
                out.add(TensorData.ofInts(e.getKey(), e.getValue(), random.ints(n, 0, 3).toArray()));
                continue;
            }
            float[] values = new float[n];
            for (int i = 0; i < n; i++) {
                values[i] = (float) (random.nextGaussian() * 0.02);
            }
            out.add(TensorData.ofFloats(e.getKey(), e.getValue(), values, dtype));
        }
        return out;
    }
}
