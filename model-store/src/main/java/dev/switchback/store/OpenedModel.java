package dev.switchback.store;

import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.safetensors.SafetensorsFile;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** A verified model folder with its weight files memory-mapped; close it to unmap them. */
public final class OpenedModel implements AutoCloseable {
    private final Path dir;
    private final ModelManifest manifest;
    private final ReferenceLogits reference;
    private final SafetensorsFile weights;
    private final Map<Integer, SafetensorsFile> experts;

    private OpenedModel(Path dir, ModelManifest manifest, ReferenceLogits reference, SafetensorsFile weights,
            Map<Integer, SafetensorsFile> experts) {
        this.dir = dir;
        this.manifest = manifest;
        this.reference = reference;
        this.weights = weights;
        this.experts = experts;
    }

    /** Verifies then opens a model folder, in a store or not; refuses, naming the files, one incomplete or altered. */
    public static OpenedModel open(Path dir) throws IOException {
        return open(dir, ModelVerifier.verify(dir));
    }

    static OpenedModel open(Path dir, VerificationReport report) throws IOException {
        if (!report.ok()) {
            throw new ModelStoreException("refusing to open " + dir + ", " + report.problems().size() + " problem(s):\n  "
                    + report.describe().strip().replace("\n", "\n  "));
        }
        ModelManifest manifest = ModelManifest.read(dir.resolve(ModelFiles.MANIFEST));
        ReferenceLogits reference = ReferenceLogits.read(dir.resolve(ModelFiles.REFERENCE));
        Map<Integer, SafetensorsFile> experts = new LinkedHashMap<>();
        // An ONNX export keeps its weights inside model.onnx; ONNX Runtime reads that file itself.
        SafetensorsFile weights = manifest.onnxExport() ? null : SafetensorsFile.open(dir.resolve(ModelFiles.WEIGHTS));
        try {
            for (int layer : manifest.sparseLayers()) {
                experts.put(layer, SafetensorsFile.open(dir.resolve(ModelFiles.experts(layer))));
            }
        } catch (IOException | RuntimeException e) {
            if (weights != null) {
                weights.close();
            }
            experts.values().forEach(SafetensorsFile::close);
            throw e;
        }
        return new OpenedModel(dir, manifest, reference, weights, Map.copyOf(experts));
    }

    /** The model's folder. */
    public Path dir() {
        return dir;
    }

    public ModelManifest manifest() {
        return manifest;
    }

    public ModelConfig config() {
        return manifest.config();
    }

    /**
     * {@code model.safetensors}: every weight except the experts.
     *
     * @throws IllegalStateException for an ONNX export, which has no such file
     */
    public SafetensorsFile weights() {
        if (weights == null) {
            throw new IllegalStateException(manifest.name() + " at " + dir + " is an ONNX export (" + ModelFiles.ONNX
                    + "): only the onnx engine of the server runs it; use the dense model it was exported from");
        }
        return weights;
    }

    /** Whether this folder is an ONNX export ({@link ModelFiles#ONNX} instead of safetensors weights). */
    public boolean onnxExport() {
        return manifest.onnxExport();
    }

    /** The ONNX graph of an ONNX export. */
    public Path onnxFile() {
        return dir.resolve(ModelFiles.ONNX);
    }

    /** {@code experts-<layer>.safetensors} of sparse block {@code layer}. */
    public SafetensorsFile experts(int layer) {
        SafetensorsFile f = experts.get(layer);
        if (f == null) {
            throw new IllegalArgumentException("block " + layer + " of " + manifest.name() + " is not sparse (sparse: "
                    + manifest.sparseLayers() + ")");
        }
        return f;
    }

    /** The trainer's reference prompts and logits. */
    public ReferenceLogits reference() {
        return reference;
    }

    /**
     * SHA-256 of the folder's {@code SHA256SUMS}: one digest that pins every file of this (verified) model, for
     * provenance that names it.
     */
    public String checksum() throws IOException {
        return Sha256Sums.sha256(dir.resolve(ModelFiles.CHECKSUMS));
    }

    /** The tokenizer file, for the tokenizer package to load. */
    public Path tokenizerFile() {
        return dir.resolve(manifest.tokenizer());
    }

    @Override
    public void close() {
        if (weights != null) {
            weights.close();
        }
        experts.values().forEach(SafetensorsFile::close);
    }
}
