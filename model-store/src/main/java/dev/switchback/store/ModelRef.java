package dev.switchback.store;

import java.nio.file.Path;
import java.util.Objects;

/** One published version of a model in a store; {@code name:version} is how users name it. */
public record ModelRef(String name, int version, Path dir) {

    public ModelRef {
        ModelStore.checkName("name", name);
        if (version < 1) {
            throw new IllegalArgumentException("version must be >= 1, got " + version);
        }
        Objects.requireNonNull(dir, "dir");
    }

    @Override
    public String toString() {
        return name + ":" + version;
    }
}
