package dev.switchback.store.safetensors;

import java.io.IOException;
import java.nio.file.Path;

/** A safetensors file is malformed; the message names the file and, where one is at fault, the tensor. */
public final class SafetensorsException extends IOException {
    private final transient Path file;
    private final String tensor;

    SafetensorsException(Path file, String tensor, String reason) {
        super(file + (tensor == null ? "" : ": tensor '" + tensor + "'") + ": " + reason);
        this.file = file;
        this.tensor = tensor;
    }

    /** The file that is malformed. */
    public Path file() {
        return file;
    }

    /** The tensor at fault, or {@code null} when the problem is not one tensor's. */
    public String tensor() {
        return tensor;
    }
}
