package dev.switchback.kernels.sampling;

import java.util.List;

/**
 * How one sequence picks its tokens and when it ends.
 *
 * @param temperature divides the logits before the softmax; 0 picks the most likely token (greedy)
 * @param topK keep only the k most likely tokens; 0 keeps all
 * @param topP keep the smallest set of most likely tokens whose probability reaches p; 1 keeps all
 * @param repetitionPenalty CTRL-style penalty on every token already in the sequence; 1 is none
 * @param seed seed of the sequence's random draws; null for a nondeterministic one
 * @param maxTokens most tokens to generate
 * @param stop strings that end the generation when they appear in the output (not included in it)
 */
public record SamplingParams(
        double temperature,
        int topK,
        double topP,
        double repetitionPenalty,
        Long seed,
        int maxTokens,
        List<String> stop) {

    /** Most stop strings per request: each is searched for in every streamed piece. */
    public static final int MAX_STOP_STRINGS = 16;

    public SamplingParams {
        // Written as !(ok) so that NaN, which fails every comparison, is rejected too.
        if (!(temperature >= 0)) {
            throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        }
        if (Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be finite, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("topK must be >= 0, got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
        }
        if (!(repetitionPenalty > 0)) {
            throw new IllegalArgumentException("repetitionPenalty must be > 0, got " + repetitionPenalty);
        }
        if (Double.isInfinite(repetitionPenalty)) {
            throw new IllegalArgumentException("repetitionPenalty must be finite, got " + repetitionPenalty);
        }
        if (maxTokens < 1) {
            throw new IllegalArgumentException("maxTokens must be >= 1, got " + maxTokens);
        }
        stop = checkStop(stop);
    }

    /** Greedy decoding with no penalty and no stop strings. */
    public static SamplingParams greedy(int maxTokens) {
        return new SamplingParams(0, 0, 1, 1, null, maxTokens, List.of());
    }

    /** Whether the most likely token is taken instead of drawn. */
    public boolean isGreedy() {
        return temperature == 0;
    }

    public SamplingParams withTemperature(double t) {
        return new SamplingParams(t, topK, topP, repetitionPenalty, seed, maxTokens, stop);
    }

    public SamplingParams withTopK(int k) {
        return new SamplingParams(temperature, k, topP, repetitionPenalty, seed, maxTokens, stop);
    }

    public SamplingParams withTopP(double p) {
        return new SamplingParams(temperature, topK, p, repetitionPenalty, seed, maxTokens, stop);
    }

    public SamplingParams withRepetitionPenalty(double penalty) {
        return new SamplingParams(temperature, topK, topP, penalty, seed, maxTokens, stop);
    }

    public SamplingParams withSeed(Long s) {
        return new SamplingParams(temperature, topK, topP, repetitionPenalty, s, maxTokens, stop);
    }

    public SamplingParams withMaxTokens(int n) {
        return new SamplingParams(temperature, topK, topP, repetitionPenalty, seed, n, stop);
    }

    public SamplingParams withStop(List<String> strings) {
        return new SamplingParams(temperature, topK, topP, repetitionPenalty, seed, maxTokens, strings);
    }

    private static List<String> checkStop(List<String> stop) {
        if (stop == null) {
            throw new IllegalArgumentException("stop must not be null (use an empty list for none)");
        }
        if (stop.size() > MAX_STOP_STRINGS) {
            throw new IllegalArgumentException(
                    "stop must have at most " + MAX_STOP_STRINGS + " strings, got " + stop.size());
        }
        for (int i = 0; i < stop.size(); i++) {
            String s = stop.get(i);
            if (s == null || s.isEmpty()) {
                throw new IllegalArgumentException("stop[" + i + "] must be a non-empty string, got "
                        + (s == null ? "null" : "\"\""));
            }
        }
        return List.copyOf(stop);
    }
}
