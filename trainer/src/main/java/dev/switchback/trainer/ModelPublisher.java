package dev.switchback.trainer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.switchback.store.ModelFiles;
import dev.switchback.store.ModelManifest;
import dev.switchback.store.ModelStore;
import dev.switchback.store.Provenance;
import dev.switchback.store.Publication;
import dev.switchback.store.PublishedModel;
import dev.switchback.store.ReferenceLogits;
import dev.switchback.store.TensorNames;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.safetensors.DType;
import dev.switchback.store.safetensors.SafetensorsWriter;
import dev.switchback.store.safetensors.TensorData;
import dev.switchback.store.tokenizer.BpeTokenizer;
import dev.switchback.trainer.model.Gpt;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes a trained model to the store in format v1: shared weights, one experts file per sparse layer, the hash
 * table, the tokenizer, and {@code reference.json} holding the model's own next-token logits for fixed prompts
 * (the engine's parity tests compare against these).
 */
public final class ModelPublisher {
    /** Prompts whose logits every published model records. */
    public static final List<String> REFERENCE_PROMPTS = List.of(
            "In the beginning God created",
            "And the LORD spake unto Moses, saying,",
            "Blessed are the",
            "For God so loved the world, that he gave");

    /**
     * The chat template of every published model: the trainer shows a model its corpus one text a line
     * ({@link dev.switchback.trainer.data.TokenizedCorpus}), so each message becomes a line and the reply starts the
     * next one (a base model continues the conversation; a client stops it at the end of the line with stop "\n").
     */
    public static final String CHAT_TEMPLATE = "{content}\n";

    private ModelPublisher() {}

    /** Publishes {@code model} as a new version of {@code name}, weights stored as {@code dtype}. */
    public static PublishedModel publish(ModelStore store, String name, Gpt model, BpeTokenizer tokenizer, DType dtype,
            Provenance provenance) throws IOException {
        return publish(store, name, model, tokenizer, dtype, provenance, Map.of());
    }

    /** {@link #publish}, with {@code extra} fields (e.g. the training settings) recorded in {@code model.json}. */
    public static PublishedModel publish(ModelStore store, String name, Gpt model, BpeTokenizer tokenizer, DType dtype,
            Provenance provenance, Map<String, Object> extra) throws IOException {
        ModelConfig config = model.config();
        try (Publication pub = store.begin(name)) {
            List<TensorData> shared = new ArrayList<>();
            Map<Integer, List<TensorData>> experts = new TreeMap<>();
            for (var e : model.parameters().all().entrySet()) {
                String tensor = e.getKey();
                NDArray a = e.getValue();
                // Norm gains and routers stay float32: the router is computed in float32 and norms are tiny.
                boolean keepF32 = a.getShape().dimension() == 1 || tensor.endsWith("router.weight");
                TensorData data = TensorData.ofFloats(tensor, a.getShape().getShape(), a.toFloatArray(), keepF32 ? DType.F32 : dtype);
                int layer = expertLayer(tensor);
                if (layer >= 0) {
                    experts.computeIfAbsent(layer, l -> new ArrayList<>()).add(data);
                } else {
                    shared.add(data);
                }
            }
            if (TensorNames.hasHashTable(config)) {
                shared.add(TensorData.ofInts(TensorNames.HASH_TABLE, new long[] {config.vocabSize()}, model.hashRouting().table()));
            }
            SafetensorsWriter.write(pub.dir().resolve(ModelFiles.WEIGHTS), shared, Map.of("format", "pt"));
            for (var e : experts.entrySet()) {
                SafetensorsWriter.write(pub.dir().resolve(ModelFiles.experts(e.getKey())), e.getValue(), Map.of("format", "pt"));
            }
            tokenizer.save(pub.dir().resolve(ModelFiles.TOKENIZER));
            referenceLogits(model, tokenizer).write(pub.dir().resolve(ModelFiles.REFERENCE));
            ModelManifest.of(name, config, dtype, CHAT_TEMPLATE, provenance).withExtra(extra)
                    .write(pub.dir().resolve(ModelFiles.MANIFEST));
            return pub.commit();
        }
    }

    /** The model's next-token logits after each reference prompt (eval mode). */
    public static ReferenceLogits referenceLogits(Gpt model, BpeTokenizer tokenizer) {
        List<ReferenceLogits.Reference> refs = new ArrayList<>();
        for (String prompt : REFERENCE_PROMPTS) {
            int[] tokens = tokenizer.encodeOrdinary(prompt);
            if (tokens.length > model.config().contextLength()) {
                tokens = java.util.Arrays.copyOf(tokens, model.config().contextLength());
            }
            refs.add(new ReferenceLogits.Reference(prompt, tokens, lastLogits(model, tokens)));
        }
        return new ReferenceLogits(refs);
    }

    /** Logits of the token following {@code tokens}. */
    public static float[] lastLogits(Gpt model, int[] tokens) {
        try (NDManager m = model.parameters().manager().newSubManager()) {
            for (NDArray p : model.parameters().all().values()) {
                p.tempAttach(m);
            }
            NDArray logits = model.forward(m, new int[][] {tokens}, false).logits();
            return logits.get("0, " + (tokens.length - 1)).toFloatArray();
        }
    }

    /** The block whose experts file holds {@code tensor} ({@code blocks.N.experts.…}), or −1 for the shared weights. */
    public static int expertLayer(String tensor) {
        int i = tensor.indexOf(".experts.");
        return i < 0 ? -1 : Integer.parseInt(tensor.substring("blocks.".length(), i));
    }
}
