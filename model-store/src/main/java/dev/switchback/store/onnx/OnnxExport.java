package dev.switchback.store.onnx;

import dev.switchback.store.ModelFiles;
import dev.switchback.store.ModelManifest;
import dev.switchback.store.ModelStore;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.Publication;
import dev.switchback.store.PublishedModel;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.ModelConfig;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Exports a dense model as an ONNX graph (opset {@value #OPSET}, standard operators only) with KV-cache inputs and
 * outputs for incremental decoding, named as Hugging Face Optimum names them (see {@link DecoderGraph}), and
 * publishes such exports to the store as folders the server's onnx engine serves.
 */
public final class OnnxExport {
    /** The ai.onnx operator set the graph is written against. */
    public static final int OPSET = 17;
    /** The protobuf limit on one message: larger models would need ONNX external data, which we do not write. */
    private static final long MAX_BYTES = Integer.MAX_VALUE;

    /** Input and output names of the exported graph. */
    public static final String INPUT_IDS = DecoderGraph.INPUT_IDS;
    public static final String ATTENTION_MASK = DecoderGraph.ATTENTION_MASK;
    public static final String POSITION_IDS = DecoderGraph.POSITION_IDS;
    public static final String LOGITS = DecoderGraph.LOGITS;

    private OnnxExport() {}

    public static String pastKey(int layer) {
        return DecoderGraph.pastKey(layer);
    }

    public static String pastValue(int layer) {
        return DecoderGraph.pastValue(layer);
    }

    public static String presentKey(int layer) {
        return DecoderGraph.presentKey(layer);
    }

    public static String presentValue(int layer) {
        return DecoderGraph.presentValue(layer);
    }

    /**
     * Refuses, in one line, a model that is not a plain dense Transformer (ONNX Runtime would need our routing and
     * capacity logic for experts, and a Ladder's repeated stack).
     */
    public static void checkExportable(ModelManifest manifest) {
        if (manifest.onnxExport()) {
            throw new IllegalArgumentException("model " + manifest.name() + " is already an ONNX export; export the dense"
                    + " model it came from");
        }
        Architecture arch = manifest.config().architecture();
        if (!(arch instanceof Architecture.Dense)) {
            throw new IllegalArgumentException("model " + manifest.name() + " is a " + arch.kind() + " model; only dense"
                    + " models export to ONNX: distil it into a dense student first");
        }
    }

    /**
     * Writes the ONNX graph of {@code model} to {@code out} (through a temporary file and a rename, so a failed
     * export leaves no partial file).
     *
     * @return bytes written
     */
    public static long write(OpenedModel model, Path out) throws IOException {
        checkExportable(model.manifest());
        ProtoMessage proto = build(model);
        Path dir = out.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path temp = Files.createTempFile(dir, ".onnx-", ".tmp");
        try {
            try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(temp), 1 << 20)) {
                proto.writeTo(os);
            }
            Files.move(temp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(temp);
        }
        return proto.size();
    }

    /**
     * Publishes the export of {@code model} as a new version of {@code name}: {@code model.onnx}, the tokenizer,
     * the source's reference logits and a manifest marked {@code "engine": "onnx"} (dtype F32, the graph's), all
     * covered by SHA256SUMS.
     */
    public static PublishedModel publish(OpenedModel model, ModelStore store, String name) throws IOException {
        checkExportable(model.manifest());
        ModelManifest source = model.manifest();
        try (Publication p = store.begin(name)) {
            write(model, p.dir().resolve(ModelFiles.ONNX));
            Files.copy(model.tokenizerFile(), p.dir().resolve(ModelFiles.TOKENIZER));
            Files.copy(model.dir().resolve(ModelFiles.REFERENCE), p.dir().resolve(ModelFiles.REFERENCE));
            Map<String, Object> extra = new LinkedHashMap<>(source.extra());
            extra.put(ModelManifest.ENGINE, ModelManifest.ENGINE_ONNX);
            extra.put("onnxOpset", OPSET);
            extra.put("exportedFrom", model.dir().toString());
            new ModelManifest(ModelManifest.FORMAT_VERSION, name, source.config(), "F32", ModelFiles.TOKENIZER,
                    source.sparseLayers(), source.chatTemplate(), source.provenance(), extra)
                    .write(p.dir().resolve(ModelFiles.MANIFEST));
            return p.commit();
        }
    }

    private static ProtoMessage build(OpenedModel model) {
        ModelConfig config = model.config();
        OnnxGraph graph = DecoderGraph.build(config, model.weights()::floats);
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("switchback.model", model.manifest().name());
        metadata.put("num_hidden_layers", String.valueOf(config.layers()));
        metadata.put("num_attention_heads", String.valueOf(config.heads()));
        metadata.put("head_dim", String.valueOf(config.headSize()));
        metadata.put("vocab_size", String.valueOf(config.vocabSize()));
        metadata.put("max_position_embeddings", String.valueOf(config.contextLength()));
        ProtoMessage proto = Onnx.model(graph.build(model.manifest().name()), OPSET, "switchback", "0.1.0", metadata);
        if (proto.size() > MAX_BYTES) {
            throw new IllegalArgumentException("the ONNX graph of " + model.manifest().name() + " would take " + proto.size()
                    + " bytes, past protobuf's 2 GiB limit (ONNX external data is not supported)");
        }
        return proto;
    }
}
