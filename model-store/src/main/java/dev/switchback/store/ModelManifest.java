package dev.switchback.store;

import dev.switchback.store.model.ConfigException;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.safetensors.DType;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The contents of {@code model.json}: what a model is and how it was made.
 *
 * @param formatVersion model folder format, always {@value #FORMAT_VERSION} for this reader
 * @param name model name, the store folder it is published under
 * @param config hyper-parameters and architecture
 * @param dtype storage type of the weights: {@code F32}, {@code BF16} or {@code F16}
 * @param tokenizer file name of the tokenizer inside the folder
 * @param sparseLayers 0-based blocks whose FFN is a mixture of experts; derived from {@code config} and written so
 *     that readers need not derive it, checked to agree
 * @param chatTemplate template for chat prompts, or {@code null} when the model has none
 * @param provenance where the model came from
 * @param extra fields added by later writers without a format change (never {@code null})
 */
public record ModelManifest(
        int formatVersion,
        String name,
        ModelConfig config,
        String dtype,
        String tokenizer,
        List<Integer> sparseLayers,
        String chatTemplate,
        Provenance provenance,
        Map<String, Object> extra) {

    public static final int FORMAT_VERSION = 1;

    public ModelManifest {
        if (formatVersion != FORMAT_VERSION) {
            throw new ConfigException("formatVersion", "must be " + FORMAT_VERSION + " (the format this reader knows), got "
                    + formatVersion);
        }
        ModelStore.checkName("name", name);
        if (config == null) {
            throw new ConfigException("config", "is required");
        }
        if (dtype == null || !List.of("F32", "BF16", "F16").contains(dtype)) {
            throw new ConfigException("dtype", "must be F32, BF16 or F16, got " + dtype);
        }
        if (tokenizer == null || !ModelFiles.isPlainName(tokenizer)) {
            throw new ConfigException("tokenizer", "must be a file name inside the model folder, got " + tokenizer);
        }
        List<Integer> derived = sparseLayersOf(config);
        if (sparseLayers == null || !sparseLayers.equals(derived)) {
            throw new ConfigException("sparseLayers", "must be " + derived + " for this architecture, got " + sparseLayers);
        }
        sparseLayers = List.copyOf(sparseLayers);
        if (provenance == null) {
            throw new ConfigException("provenance", "is required");
        }
        extra = extra == null ? Map.of() : Map.copyOf(extra);
    }

    /** A v1 manifest with {@code sparseLayers} derived from {@code config} and no extra fields. */
    public static ModelManifest of(String name, ModelConfig config, DType dtype, String chatTemplate,
            Provenance provenance) {
        if (dtype == null || !dtype.isFloat()) {
            throw new ConfigException("dtype", "must be F32, BF16 or F16, got " + dtype);
        }
        return new ModelManifest(FORMAT_VERSION, name, config, dtype.name(), ModelFiles.TOKENIZER,
                sparseLayersOf(config), chatTemplate, provenance, Map.of());
    }

    /** This manifest with {@code extra} as its extra fields. */
    public ModelManifest withExtra(Map<String, Object> extra) {
        return new ModelManifest(formatVersion, name, config, dtype, tokenizer, sparseLayers, chatTemplate, provenance, extra);
    }

    /** Reads and validates {@code model.json}; content errors are {@link ConfigException}s naming the field. */
    public static ModelManifest read(Path file) throws IOException {
        return Json.read(file, ModelManifest.class);
    }

    /** Writes this manifest to {@code file} and fsyncs it. */
    public void write(Path file) throws IOException {
        Json.write(file, this);
    }

    /** {@link #dtype} as a safetensors element type. */
    public DType weightDType() {
        return DType.valueOf(dtype);
    }

    private static List<Integer> sparseLayersOf(ModelConfig config) {
        List<Integer> layers = new ArrayList<>();
        for (int i = 0; i < config.layers(); i++) {
            if (config.architecture().isSparseLayer(i)) {
                layers.add(i);
            }
        }
        return List.copyOf(layers);
    }
}
