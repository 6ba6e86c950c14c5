package dev.switchback.kernels.sampling;

/**
 * One chosen token.
 *
 * @param token the token id, relative to the start of the logits slice it was drawn from
 * @param logprob natural log of the token's probability under the distribution it was drawn from; NaN from a
 *     sampler told that nobody reads it
 */
public record Sample(int token, float logprob) {
    public Sample {
        if (token < 0) {
            throw new IllegalArgumentException("token must be >= 0, got " + token);
        }
        if (!(logprob <= 0) && !Float.isNaN(logprob)) {
            throw new IllegalArgumentException("logprob must be <= 0, got " + logprob);
        }
    }
}
