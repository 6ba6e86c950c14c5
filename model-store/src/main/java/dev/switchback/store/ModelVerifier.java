package dev.switchback.store;

import dev.switchback.store.VerificationReport.Problem;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.safetensors.DType;
import dev.switchback.store.safetensors.SafetensorsFile;
import dev.switchback.store.safetensors.TensorInfo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/** The checks behind {@link ModelStore#verify}: integrity (checksums) and contents (the format). */
final class ModelVerifier {
    /** More problems than this in one file are summarised: a wrong naming scheme would otherwise print hundreds. */
    private static final int MAX_TENSOR_PROBLEMS_PER_FILE = 10;

    private ModelVerifier() {}

    static VerificationReport verify(Path dir) {
        List<Problem> problems = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            problems.add(new Problem(dir.toString(), "is not a directory"));
            return new VerificationReport(dir, problems);
        }
        Set<String> files = files(dir, problems);
        checkIntegrity(dir, files, problems);
        Set<String> contents = new TreeSet<>(files);
        contents.remove(ModelFiles.CHECKSUMS);
        checkContents(dir, contents, problems);
        return new VerificationReport(dir, problems);
    }

    /** The regular files directly inside {@code dir}; anything else is a problem. */
    static Set<String> files(Path dir, List<Problem> problems) {
        Set<String> files = new TreeSet<>();
        try (Stream<Path> entries = Files.list(dir)) {
            for (Path p : (Iterable<Path>) entries::iterator) {
                String name = p.getFileName().toString();
                if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                    problems.add(new Problem(name, "unexpected: a model folder holds only regular files"));
                } else if (!ModelFiles.isPlainName(name)) {
                    problems.add(new Problem(name, "unexpected file name (allowed: letters, digits, '.', '_', '-')"));
                } else {
                    files.add(name);
                }
            }
        } catch (IOException | UncheckedIOException e) {
            problems.add(new Problem(dir.toString(), "cannot list: " + e.getMessage()));
        }
        return files;
    }

    private static void checkIntegrity(Path dir, Set<String> files, List<Problem> problems) {
        if (!files.contains(ModelFiles.CHECKSUMS)) {
            problems.add(new Problem(ModelFiles.CHECKSUMS, "missing: the files' integrity cannot be checked"));
            return;
        }
        Map<String, String> listed;
        try {
            listed = Sha256Sums.parse(dir.resolve(ModelFiles.CHECKSUMS), problems);
        } catch (IOException e) {
            problems.add(new Problem(ModelFiles.CHECKSUMS, "cannot read: " + e.getMessage()));
            return;
        }
        for (Map.Entry<String, String> e : listed.entrySet()) {
            String name = e.getKey();
            if (!files.contains(name) || name.equals(ModelFiles.CHECKSUMS)) {
                problems.add(new Problem(name, name.equals(ModelFiles.CHECKSUMS)
                        ? "SHA256SUMS cannot list itself" : "listed in SHA256SUMS but missing"));
                continue;
            }
            try {
                String actual = Sha256Sums.sha256(dir.resolve(name));
                if (!actual.equals(e.getValue())) {
                    problems.add(new Problem(name, "checksum mismatch: SHA256SUMS has " + e.getValue()
                            + ", the file has " + actual + " (altered or truncated)"));
                }
            } catch (IOException ex) {
                problems.add(new Problem(name, "cannot read: " + ex.getMessage()));
            }
        }
        for (String name : files) {
            if (!name.equals(ModelFiles.CHECKSUMS) && !listed.containsKey(name)) {
                problems.add(new Problem(name, "present but not listed in SHA256SUMS"));
            }
        }
    }

    /** Checks the format of every file in {@code files} (names inside {@code dir}), SHA256SUMS aside. */
    static void checkContents(Path dir, Set<String> files, List<Problem> problems) {
        ModelManifest manifest = null;
        if (!files.contains(ModelFiles.MANIFEST)) {
            problems.add(new Problem(ModelFiles.MANIFEST, "missing (required by format v1)"));
        } else {
            try {
                manifest = ModelManifest.read(dir.resolve(ModelFiles.MANIFEST));
            } catch (IOException | IllegalArgumentException e) {
                problems.add(new Problem(ModelFiles.MANIFEST, e.getMessage()));
            }
        }
        if (manifest != null) {
            String weights = manifest.onnxExport() ? ModelFiles.ONNX : ModelFiles.WEIGHTS;
            for (String required : List.of(manifest.tokenizer(), weights, ModelFiles.REFERENCE)) {
                if (!files.contains(required)) {
                    problems.add(new Problem(required, "missing (required by format v1)"));
                }
            }
            for (int layer : manifest.sparseLayers()) {
                if (!files.contains(ModelFiles.experts(layer))) {
                    problems.add(new Problem(ModelFiles.experts(layer), "missing: block " + layer + " is sparse"));
                }
            }
        }
        for (String name : files) {
            int layer = ModelFiles.expertsLayer(name);
            if (manifest != null && layer >= 0 && !manifest.sparseLayers().contains(layer)) {
                problems.add(new Problem(name, "unexpected: block " + layer + " is not sparse"));
            } else if (name.endsWith(".safetensors")) {
                checkSafetensors(dir, name, manifest, layer, problems);
            }
        }
        if (manifest != null && files.contains(manifest.tokenizer())) {
            checkTokenizer(dir, manifest.tokenizer(), problems);
        }
        if (files.contains(ModelFiles.REFERENCE)) {
            checkReference(dir, manifest, problems);
        }
    }

    private static void checkSafetensors(Path dir, String name, ModelManifest manifest, int expertsLayer,
            List<Problem> problems) {
        try (SafetensorsFile f = SafetensorsFile.open(dir.resolve(name))) {
            if (manifest == null) {
                return;
            }
            Map<String, long[]> expected;
            if (name.equals(ModelFiles.WEIGHTS)) {
                expected = TensorNames.sharedShapes(manifest.config());
            } else if (expertsLayer >= 0) {
                expected = TensorNames.expertShapes(manifest.config(), expertsLayer);
            } else {
                return; // an extra file, e.g. an export: its format was checked, its contents are not ours to judge
            }
            List<String> found = new ArrayList<>();
            DType weights = manifest.weightDType();
            for (Map.Entry<String, long[]> e : expected.entrySet()) {
                if (!f.contains(e.getKey())) {
                    found.add("tensor '" + e.getKey() + "' is missing");
                    continue;
                }
                TensorInfo info = f.info(e.getKey());
                if (!Arrays.equals(info.shape(), e.getValue())) {
                    found.add("tensor '" + e.getKey() + "' has shape " + Arrays.toString(info.shape()) + ", expected "
                            + Arrays.toString(e.getValue()));
                }
                if (!TensorNames.dtypeAllowed(e.getKey(), info.dtype(), weights)) {
                    found.add("tensor '" + e.getKey() + "' is " + info.dtype() + ", but the model's dtype is " + weights);
                }
            }
            Set<String> unexpected = new HashSet<>(f.names());
            unexpected.removeAll(expected.keySet());
            for (String t : new TreeSet<>(unexpected)) {
                found.add("tensor '" + t + "' is not part of this architecture");
            }
            for (int i = 0; i < found.size(); i++) {
                if (i == MAX_TENSOR_PROBLEMS_PER_FILE) {
                    problems.add(new Problem(name, "… and " + (found.size() - i) + " more tensor problems"));
                    break;
                }
                problems.add(new Problem(name, found.get(i)));
            }
        } catch (IOException e) {
            problems.add(new Problem(name, withoutPath(dir.resolve(name), e.getMessage())));
        }
    }

    private static void checkTokenizer(Path dir, String name, List<Problem> problems) {
        // The tokenizer package owns the format; here we only refuse a file that is not even a JSON object.
        try {
            var tree = Json.MAPPER.readTree(dir.resolve(name).toFile());
            if (tree == null || !tree.isObject()) {
                problems.add(new Problem(name, "is not a JSON object"));
            }
        } catch (IOException e) {
            problems.add(new Problem(name, "invalid JSON: " + e.getMessage().lines().findFirst().orElse("")));
        }
    }

    private static void checkReference(Path dir, ModelManifest manifest, List<Problem> problems) {
        ReferenceLogits reference;
        try {
            reference = ReferenceLogits.read(dir.resolve(ModelFiles.REFERENCE));
        } catch (IOException | IllegalArgumentException e) {
            problems.add(new Problem(ModelFiles.REFERENCE, e.getMessage()));
            return;
        }
        if (manifest == null) {
            return;
        }
        ModelConfig config = manifest.config();
        for (int i = 0; i < reference.references().size(); i++) {
            ReferenceLogits.Reference r = reference.references().get(i);
            if (r.logits().length != config.vocabSize()) {
                problems.add(new Problem(ModelFiles.REFERENCE, "references[" + i + "].logits has " + r.logits().length
                        + " values, expected vocabSize=" + config.vocabSize()));
            }
            for (int t : r.tokens()) {
                if (t >= config.vocabSize()) {
                    problems.add(new Problem(ModelFiles.REFERENCE, "references[" + i + "].tokens has id " + t
                            + ", beyond vocabSize=" + config.vocabSize()));
                    break;
                }
            }
        }
    }

    private static String withoutPath(Path file, String message) {
        String prefix = file + ": ";
        return message != null && message.startsWith(prefix) ? message.substring(prefix.length()) : String.valueOf(message);
    }
}
