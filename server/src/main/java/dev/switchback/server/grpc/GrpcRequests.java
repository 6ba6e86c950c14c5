package dev.switchback.server.grpc;

import dev.switchback.kernels.sampling.SamplingParams;
import dev.switchback.server.generation.GenerationException;
import dev.switchback.server.generation.GenerationRequest;
import dev.switchback.server.grpc.proto.GenerateRequest;
import io.grpc.Deadline;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** Engine requests from gRPC messages: proto3 defaults, validated sampling settings and the call's deadline. */
final class GrpcRequests {
    /** What {@code max_tokens = 0} means, as OpenAI's completions endpoint defaults to. */
    static final int DEFAULT_MAX_TOKENS = 16;

    private GrpcRequests() {}

    /**
     * @param deadline the call's deadline, or null for none
     * @throws GenerationException INVALID_ARGUMENT naming the bad field
     */
    static GenerationRequest toGeneration(GenerateRequest r, Deadline deadline) {
        if (r.getMaxTokens() < 0) {
            throw new GenerationException(GenerationException.Kind.INVALID_ARGUMENT,
                    "max_tokens must be >= 0, got " + r.getMaxTokens(), "max_tokens");
        }
        SamplingParams sampling;
        try {
            sampling = new SamplingParams(
                    r.hasTemperature() ? widen(r.getTemperature()) : 1.0,
                    r.getTopK(),
                    r.hasTopP() ? widen(r.getTopP()) : 1.0,
                    r.hasRepetitionPenalty() ? widen(r.getRepetitionPenalty()) : 1.0,
                    r.hasSeed() ? r.getSeed() : null,
                    r.getMaxTokens() == 0 ? DEFAULT_MAX_TOKENS : r.getMaxTokens(),
                    r.getStopList());
        } catch (IllegalArgumentException e) {
            // SamplingParams' messages already name the field.
            throw new GenerationException(GenerationException.Kind.INVALID_ARGUMENT, e.getMessage(), null);
        }
        return new GenerationRequest(r.getModel(), r.getPrompt(), sampling, r.getLogprobs(), timeout(deadline),
                r.getMaxTokens() == 0);
    }

    /** The float's shortest decimal, so 0.7f samples like the HTTP API's 0.7 rather than 0.699999988. */
    private static double widen(float f) {
        return Float.isFinite(f) ? Double.parseDouble(Float.toString(f)) : f;
    }

    private static Duration timeout(Deadline deadline) {
        if (deadline == null) {
            return null;
        }
        // An already expired deadline still becomes a positive timeout: the engine then fails it at once.
        return Duration.ofNanos(Math.max(1, deadline.timeRemaining(TimeUnit.NANOSECONDS)));
    }
}
