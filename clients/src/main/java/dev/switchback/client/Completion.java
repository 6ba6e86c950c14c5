package dev.switchback.client;

/**
 * A finished completion.
 *
 * @param id the server's id for it
 * @param model the model that wrote it
 * @param text the generated text
 * @param finishReason "stop" or "length"
 * @param usage token counts; null for a stream whose server sent none
 */
public record Completion(String id, String model, String text, String finishReason, Usage usage) {
    /** Token counts of one completion. */
    public record Usage(int promptTokens, int completionTokens, int totalTokens) {}
}
