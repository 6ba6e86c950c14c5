package dev.switchback.client;

import java.util.List;

/**
 * A completion to ask for.
 *
 * @param model the model's name
 * @param prompt the text to continue
 * @param maxTokens most tokens to generate; 0 for the server's default
 * @param temperature sampling temperature; null for the server's default
 * @param stop strings that end the completion (not included in it)
 */
public record CompletionRequest(String model, String prompt, int maxTokens, Double temperature, List<String> stop) {
    public CompletionRequest {
        if (model == null || model.isBlank()) {
            throw new IllegalArgumentException("model is required");
        }
        if (prompt == null) {
            throw new IllegalArgumentException("prompt is required");
        }
        if (maxTokens < 0) {
            throw new IllegalArgumentException("maxTokens must be >= 0 (0: the server's default), got " + maxTokens);
        }
        if (temperature != null && !(temperature >= 0 && temperature < Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
        }
        if (stop == null) {
            throw new IllegalArgumentException("stop must not be null (use an empty list for none)");
        }
        stop = List.copyOf(stop);
    }

    /** The server's defaults for everything but the model and prompt. */
    public static CompletionRequest of(String model, String prompt) {
        return new CompletionRequest(model, prompt, 0, null, List.of());
    }

    public CompletionRequest withMaxTokens(int n) {
        return new CompletionRequest(model, prompt, n, temperature, stop);
    }

    public CompletionRequest withTemperature(Double t) {
        return new CompletionRequest(model, prompt, maxTokens, t, stop);
    }

    public CompletionRequest withStop(List<String> strings) {
        return new CompletionRequest(model, prompt, maxTokens, temperature, strings);
    }
}
