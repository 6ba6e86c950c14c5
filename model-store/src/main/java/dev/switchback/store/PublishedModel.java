package dev.switchback.store;

import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

/** The result of a publish: where the model now lies and the SHA-256 of each file, as written to SHA256SUMS. */
public record PublishedModel(String name, int version, Path dir, Map<String, String> sha256ByFile) {

    public PublishedModel {
        Objects.requireNonNull(dir, "dir");
        sha256ByFile = Map.copyOf(sha256ByFile);
    }

    /** This model as a store reference. */
    public ModelRef ref() {
        return new ModelRef(name, version, dir);
    }
}
