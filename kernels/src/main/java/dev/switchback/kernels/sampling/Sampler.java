package dev.switchback.kernels.sampling;

import java.util.Objects;
import java.util.SplittableRandom;

/**
 * Picks the next tokens of one sequence from the model's logits: repetition penalty, temperature, top-k, top-p,
 * then a seeded draw, in the order of Hugging Face transformers. Not thread-safe: one per sequence.
 *
 * <p>Ties rank the lower token id first, so greedy takes the lowest id among equal maxima and top-k keeps
 * exactly k tokens (transformers keeps every token tied with the k-th).
 */
public final class Sampler {
    private final SamplingParams params;
    private final SplittableRandom random;
    // 1 / temperature, capped so that a tiny temperature gives (max - max) * scale = 0 rather than 0 * inf = NaN.
    private final double scale;

    // Scratch reused for every token, grown to the largest vocabulary seen.
    private float[] x = new float[0]; // the penalised logits
    private double[] blockSums = new double[0];
    private double[] weights; // every token's weight, for top-p alone
    private long[] topK;
    private final Support support = new Support();
    private final Nucleus nucleus = new Nucleus();

    /** Whether {@link Sample#logprob} is wanted; greedy choices skip the normalising sum when it is not. */
    private final boolean logprobs;

    /** A sampler that reports every sample's log-probability. */
    public Sampler(SamplingParams params) {
        this(params, true);
    }

    /**
     * @param logprobs whether the caller reads {@link Sample#logprob}: when not, a greedy choice is only the largest
     *     logit and its logprob is NaN (the sum over the vocabulary that normalises it was, at 4,096 tokens, about a
     *     third of the scheduler's own time per decoded token); the other modes need the weights anyway
     */
    public Sampler(SamplingParams params, boolean logprobs) {
        this.logprobs = logprobs;
        this.params = Objects.requireNonNull(params, "params");
        this.random = params.seed() == null ? new SplittableRandom() : new SplittableRandom(params.seed());
        this.scale = params.isGreedy() ? 1 : Math.min(1 / params.temperature(), Double.MAX_VALUE);
    }

    public SamplingParams params() {
        return params;
    }

    /**
     * Whether this sampler's choice is the first index of the largest logit and nothing else (greedy, no repetition
     * penalty, no log-probability wanted), so whoever holds the logits may pick the token for it.
     */
    public boolean onlyArgmax() {
        return params.isGreedy() && params.repetitionPenalty() == 1 && !logprobs;
    }

    /**
     * Chooses a token from {@code logits[offset..offset+vocab)}, which it leaves unchanged. The caller adds the
     * chosen token to {@code history} before the next call.
     */
    public Sample next(float[] logits, int offset, int vocab, TokenHistory history) {
        Objects.requireNonNull(history, "history");
        if (vocab < 1) {
            throw new IllegalArgumentException("vocab must be >= 1, got " + vocab);
        }
        Objects.checkFromIndexSize(offset, vocab, logits.length);
        if (x.length < vocab) {
            x = new float[vocab];
            blockSums = new double[LogitKernels.blocks(vocab)];
        }
        System.arraycopy(logits, offset, x, 0, vocab);
        penalise(history, vocab);
        float max = LogitKernels.max(x, vocab);
        if (!(max > Float.NEGATIVE_INFINITY && max < Float.POSITIVE_INFINITY)) {
            throw notADistribution(vocab, max);
        }
        if (params.isGreedy()) {
            if (!logprobs) {
                return new Sample(indexOf(max, vocab), Float.NaN);
            }
            // The best token's weight is exp(0) = 1, so its log-probability is -log(total).
            double total = LogitKernels.expSums(x, vocab, max, 1, blockSums, null);
            return new Sample(indexOf(max, vocab), logprob(-Math.log(total)));
        }
        int k = params.topK();
        if (k > 0 && k < vocab) {
            return drawFromTopK(vocab, k, max);
        }
        return params.topP() < 1 ? drawFromNucleus(vocab, max) : drawFromAll(vocab, max);
    }

    /** CTRL's penalty on each distinct token seen: positive logits divided by it, negative ones multiplied. */
    private void penalise(TokenHistory history, int vocab) {
        double penalty = params.repetitionPenalty();
        if (penalty == 1) {
            return;
        }
        for (int i = 0; i < history.size(); i++) {
            int t = history.token(i);
            if (t >= vocab) {
                throw new IllegalArgumentException("history token " + t + " is outside the vocab of " + vocab);
            }
            float v = x[t];
            x[t] = (float) (v < 0 ? v * penalty : v / penalty);
        }
    }

    private IllegalArgumentException notADistribution(int vocab, float max) {
        if (max == Float.NEGATIVE_INFINITY) {
            return new IllegalArgumentException("all " + vocab + " logits are -Infinity");
        }
        for (int i = 0; i < vocab; i++) {
            if (Float.isNaN(x[i])) {
                return new IllegalArgumentException("logit of token " + i + " is NaN");
            }
        }
        return new IllegalArgumentException("logit of token " + indexOf(max, vocab) + " is +Infinity");
    }

    /** The lowest token id with logit {@code value}. */
    private int indexOf(float value, int vocab) {
        for (int i = 0; i < vocab; i++) {
            if (x[i] == value) {
                return i;
            }
        }
        throw new IllegalStateException("no logit equals " + value);
    }

    /** Top-k, then top-p over the k tokens, which top-k leaves ranked. */
    private Sample drawFromTopK(int vocab, int k, float max) {
        if (topK == null || topK.length < k) {
            topK = new long[k];
        }
        Ranking.topK(x, vocab, k, topK);
        support.clear();
        for (int r = 0; r < k; r++) {
            int t = Ranking.token(topK[r]);
            support.add(t, LogitKernels.weight(x[t], max, scale));
        }
        if (params.topP() < 1) {
            support.truncateToNucleus(params.topP());
        }
        return sample(support.draw(random.nextDouble()), max, support.total());
    }

    /** Top-p over the whole vocabulary. */
    private Sample drawFromNucleus(int vocab, float max) {
        if (weights == null || weights.length < vocab) {
            weights = new double[x.length];
        }
        double total = LogitKernels.expSums(x, vocab, max, scale, blockSums, weights);
        nucleus.select(x, vocab, max, scale, weights, total, params.topP(), support);
        return sample(support.draw(random.nextDouble()), max, support.total());
    }

    /** Draws from the whole vocabulary: finds the block holding u, then the token within it. */
    private Sample drawFromAll(int vocab, float max) {
        double total = LogitKernels.expSums(x, vocab, max, scale, blockSums, null);
        double u = random.nextDouble() * total;
        int blocks = LogitKernels.blocks(vocab);
        int b = 0;
        double before = 0;
        // Adding in the order the total was summed, some block's running sum exceeds u.
        while (b < blocks - 1 && u >= before + blockSums[b]) {
            before += blockSums[b++];
        }
        // The block's weights are recomputed in token order. They may add to a hair less than the block's sum
        // (computed in another order), so the last positive weight takes that rounding remainder; should exp's
        // last bits disagree on a weight at the edge of underflow, the best token does.
        double target = u - before;
        double cumulative = 0;
        int chosen = -1;
        for (int i = b * LogitKernels.BLOCK, end = Math.min(vocab, i + LogitKernels.BLOCK); i < end; i++) {
            double w = LogitKernels.weight(x[i], max, scale);
            cumulative += w;
            if (w > 0) {
                chosen = i;
                if (target < cumulative) {
                    break;
                }
            }
        }
        return sample(chosen >= 0 ? chosen : indexOf(max, vocab), max, total);
    }

    private Sample sample(int token, double max, double total) {
        return new Sample(token, logprob((x[token] - max) * scale - Math.log(total)));
    }

    /** Rounds to float, never above 0: an exp(0) computed a hair below 1 must not make a certainty exceed it. */
    private static float logprob(double value) {
        return (float) Math.min(value, 0);
    }
}
