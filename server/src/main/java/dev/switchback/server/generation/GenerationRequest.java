package dev.switchback.server.generation;

import dev.switchback.kernels.sampling.SamplingParams;
import java.time.Duration;

/**
 * One completion to generate: a prompt for a named model with its sampling settings. Protocol layers (HTTP,
 * gRPC) build these; {@code n > 1} completions are {@code n} requests.
 *
 * @param model the model's name (its latest loaded version)
 * @param prompt the text to continue (chat requests arrive here already rendered through the chat template)
 * @param sampling sampling and stopping; {@code maxTokens} is the most tokens to generate
 * @param logprobs whether each token's log-probability is reported
 * @param timeout deadline from submission; null for none
 * @param maxTokensDefaulted the request left its token limit out and {@code maxTokens} is the server's default: the
 *     scheduler then lowers it to the room the model's context leaves after the prompt instead of refusing
 */
public record GenerationRequest(String model, String prompt, SamplingParams sampling, boolean logprobs, Duration timeout,
        boolean maxTokensDefaulted) {
    /** A request whose {@code maxTokens} the client gave. */
    public GenerationRequest(String model, String prompt, SamplingParams sampling, boolean logprobs, Duration timeout) {
        this(model, prompt, sampling, logprobs, timeout, false);
    }

    public GenerationRequest {
        if (model == null || model.isBlank()) {
            throw new GenerationException(GenerationException.Kind.INVALID_ARGUMENT, "model is required", "model");
        }
        if (prompt == null) {
            throw new GenerationException(GenerationException.Kind.INVALID_ARGUMENT, "prompt is required", "prompt");
        }
        if (sampling == null) {
            throw new IllegalArgumentException("sampling is required");
        }
    }
}
