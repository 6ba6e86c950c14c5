package dev.switchback.kernels.engine;

/** A sequence would grow past the model's context length. */
public final class ContextLengthException extends IllegalArgumentException {
    public ContextLengthException(String message) {
        super(message);
    }
}
