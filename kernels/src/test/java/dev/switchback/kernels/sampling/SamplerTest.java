package dev.switchback.kernels.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SamplerTest {
    private static final int[] NO_HISTORY = {};
    private static final SamplingParams SAMPLED = new SamplingParams(1, 0, 1, 1, 42L, 100, List.of());

    /** Upper 0.1% points of chi-squared by degrees of freedom: a correct sampler fails one seed in a thousand. */
    private static final double[] CHI2_999 = {0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32, 26.12, 27.88, 29.59};

    private static float[] gaussian(long seed, int n, double sd) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (random.nextGaussian() * sd);
        }
        return x;
    }

    private static TokenHistory history(int... tokens) {
        TokenHistory h = new TokenHistory();
        h.addAll(tokens);
        return h;
    }

    private static void assertLogprob(double expected, float actual) {
        assertEquals(expected, actual, 2e-6 * Math.max(1, Math.abs(expected)));
    }

    /**
     * Draws {@code draws} tokens and checks each one's logprob against the reference distribution, that none falls
     * outside its support, and that the counts pass a chi-squared test over the support.
     */
    private static void assertDrawsFollow(double[] expected, float[] logits, SamplingParams params, int draws) {
        Sampler sampler = new Sampler(params);
        TokenHistory none = new TokenHistory();
        long[] counts = new long[logits.length];
        for (int d = 0; d < draws; d++) {
            Sample s = sampler.next(logits, 0, logits.length, none);
            assertTrue(expected[s.token()] > 0, () -> "drew token " + s.token() + " outside the support");
            assertLogprob(Math.log(expected[s.token()]), s.logprob());
            counts[s.token()]++;
        }
        double chi2 = 0;
        int bins = 0;
        double maxDeviation = 0;
        for (int t = 0; t < logits.length; t++) {
            if (expected[t] > 0) {
                double mean = draws * expected[t];
                chi2 += (counts[t] - mean) * (counts[t] - mean) / mean;
                bins++;
                maxDeviation = Math.max(maxDeviation, Math.abs(counts[t] / (double) draws - expected[t]));
            }
        }
        assertTrue(bins >= 2 && bins - 1 < CHI2_999.length, "test needs 2 to 11 tokens in the support, has " + bins);
        assertTrue(chi2 < CHI2_999[bins - 1], "chi-squared " + chi2 + " with " + (bins - 1) + " degrees of freedom");
        assertTrue(maxDeviation < 4.5 * Math.sqrt(0.25 / draws), "frequency off by " + maxDeviation);
    }

    @Test
    void greedyTakesTheArgmaxAndTheLowestIdOnTies() {
        Sampler greedy = new Sampler(SamplingParams.greedy(10));
        TokenHistory none = new TokenHistory();
        assertEquals(1, greedy.next(new float[] {1, 3, 3, 2}, 0, 4, none).token());
        assertEquals(0, greedy.next(new float[] {7, 7, 7}, 0, 3, none).token());
        assertEquals(2, greedy.next(new float[] {Float.NEGATIVE_INFINITY, -5, -1, -1}, 0, 4, none).token());
        SplittableRandom random = new SplittableRandom(3);
        for (int trial = 0; trial < 200; trial++) {
            int vocab = 1 + random.nextInt(5_000);
            float[] logits = new float[vocab];
            for (int i = 0; i < vocab; i++) {
                logits[i] = random.nextInt(20); // many ties
            }
            int expected = 0;
            for (int i = 1; i < vocab; i++) {
                if (logits[i] > logits[expected]) {
                    expected = i;
                }
            }
            Sample s = greedy.next(logits, 0, vocab, none);
            assertEquals(expected, s.token());
            assertLogprob(Reference.greedyLogprobs(logits, 0, vocab, NO_HISTORY, 1)[expected], s.logprob());
        }
    }

    /** A greedy caller that reads no logprobs gets the same token without the normalising sum; other modes are unchanged. */
    @Test
    void greedyWithoutLogprobsSkipsOnlyTheLogprob() {
        int vocab = 4096;
        for (int seed = 0; seed < 20; seed++) {
            float[] logits = gaussian(seed, vocab, 3);
            Sample with = new Sampler(SamplingParams.greedy(8)).next(logits, 0, vocab, new TokenHistory());
            Sample without = new Sampler(SamplingParams.greedy(8), false).next(logits, 0, vocab, new TokenHistory());
            assertEquals(with.token(), without.token());
            assertTrue(Float.isNaN(without.logprob()), "not computed: " + without.logprob());
        }
        assertThrows(IllegalArgumentException.class, () -> new Sample(0, 0.5f), "a positive logprob is still refused");
    }

    @Test
    void greedyLogprobOnALargeVocabularyMatchesTheDoubleReference() {
        int vocab = 151_936;
        float[] logits = gaussian(5, vocab, 4);
        Sample s = new Sampler(SamplingParams.greedy(1)).next(logits, 0, vocab, new TokenHistory());
        double[] reference = Reference.greedyLogprobs(logits, 0, vocab, NO_HISTORY, 1);
        assertEquals(Reference.ranked(Reference.penalised(logits, 0, vocab, NO_HISTORY, 1))[0], s.token());
        assertLogprob(reference[s.token()], s.logprob());
    }

    @Test
    void temperatureSamplingFollowsTheSoftmaxOfScaledLogits() {
        float[] logits = {2.0f, 1.0f, 0.5f, -1.0f, 0.0f, 1.5f, -0.3f, 0.9f};
        for (double t : new double[] {0.7, 1.0, 2.5}) {
            SamplingParams params = SAMPLED.withTemperature(t);
            assertDrawsFollow(Reference.distribution(logits, 0, logits.length, NO_HISTORY, params), logits, params, 200_000);
        }
    }

    @Test
    void drawsOverSeveralBlocksReachEveryBlockInProportion() {
        // Three blocks of LogitKernels.BLOCK tokens; heavy tokens at block edges, the rest spread thin.
        int vocab = 2 * LogitKernels.BLOCK + 900;
        int[] heavy = {0, LogitKernels.BLOCK - 1, LogitKernels.BLOCK, 2 * LogitKernels.BLOCK + 1, vocab - 1};
        float[] logits = new float[vocab];
        SplittableRandom random = new SplittableRandom(8);
        for (int i = 0; i < vocab; i++) {
            logits[i] = (float) (-8 + 4 * random.nextDouble());
        }
        for (int h = 0; h < heavy.length; h++) {
            logits[heavy[h]] = 3 - 0.5f * h;
        }
        double[] p = Reference.distribution(logits, 0, vocab, NO_HISTORY, SAMPLED);
        // Bins: each heavy token, then the light tokens of each block.
        int[] bin = new int[vocab];
        for (int i = 0; i < vocab; i++) {
            bin[i] = heavy.length + i / LogitKernels.BLOCK;
        }
        for (int h = 0; h < heavy.length; h++) {
            bin[heavy[h]] = h;
        }
        double[] expected = new double[heavy.length + 3];
        for (int i = 0; i < vocab; i++) {
            expected[bin[i]] += p[i];
        }
        Sampler sampler = new Sampler(SAMPLED);
        TokenHistory none = new TokenHistory();
        int draws = 40_000;
        long[] counts = new long[expected.length];
        for (int d = 0; d < draws; d++) {
            Sample s = sampler.next(logits, 0, vocab, none);
            assertLogprob(Math.log(p[s.token()]), s.logprob());
            counts[bin[s.token()]]++;
        }
        double chi2 = 0;
        for (int b = 0; b < expected.length; b++) {
            chi2 += Math.pow(counts[b] - draws * expected[b], 2) / (draws * expected[b]);
        }
        assertTrue(chi2 < CHI2_999[expected.length - 1], "chi-squared " + chi2);
    }

    @Test
    void topKDrawsOnlyTheKBestInRenormalisedProportion() {
        float[] logits = gaussian(21, 50, 1.5);
        SamplingParams params = SAMPLED.withTopK(5).withTemperature(1.3);
        double[] p = Reference.distribution(logits, 0, 50, NO_HISTORY, params);
        int[] best = Reference.ranked(Reference.penalised(logits, 0, 50, NO_HISTORY, 1));
        for (int r = 0; r < 50; r++) {
            assertEquals(r < 5, p[best[r]] > 0);
        }
        assertDrawsFollow(p, logits, params, 100_000);
    }

    @Test
    void topKKeepsExactlyKTokensBreakingTiesByLowerId() {
        float[] logits = {4, 5, 4, 4, 1};
        Sampler sampler = new Sampler(SAMPLED.withTopK(2));
        TokenHistory none = new TokenHistory();
        boolean[] seen = new boolean[5];
        for (int d = 0; d < 2_000; d++) {
            Sample s = sampler.next(logits, 0, 5, none);
            seen[s.token()] = true;
            assertLogprob(Math.log(s.token() == 1 ? Math.E / (Math.E + 1) : 1 / (Math.E + 1)), s.logprob());
        }
        assertArrayEquals(new boolean[] {true, true, false, false, false}, seen);
    }

    @Test
    void topKOfOneIsGreedyWithCertainty() {
        float[] logits = gaussian(2, 1_000, 1);
        Sample s = new Sampler(SAMPLED.withTopK(1)).next(logits, 0, 1_000, new TokenHistory());
        assertEquals(new Sampler(SamplingParams.greedy(1)).next(logits, 0, 1_000, new TokenHistory()).token(), s.token());
        assertEquals(0f, s.logprob());
    }

    @Test
    void topKAtLeastTheVocabularyChangesNothing() {
        float[] logits = gaussian(4, 300, 1);
        Sampler off = new Sampler(SAMPLED);
        Sampler all = new Sampler(SAMPLED.withTopK(300));
        Sampler more = new Sampler(SAMPLED.withTopK(1_000));
        TokenHistory none = new TokenHistory();
        for (int d = 0; d < 500; d++) {
            Sample expected = off.next(logits, 0, 300, none);
            assertEquals(expected, all.next(logits, 0, 300, none));
            assertEquals(expected, more.next(logits, 0, 300, none));
        }
    }

    @Test
    void topPKeepsTheMinimalNucleusIncludingTheTokenThatCrossesP() {
        // Probabilities 0.05, 0.5, 0.15, 0.3: at p = 0.7 the nucleus is {1, 3}; token 3 takes it from 0.5 past 0.7.
        float[] logits = {(float) Math.log(0.05), (float) Math.log(0.5), (float) Math.log(0.15), (float) Math.log(0.3)};
        SamplingParams params = SAMPLED.withTopP(0.7);
        double[] p = Reference.distribution(logits, 0, 4, NO_HISTORY, params);
        assertArrayEquals(new double[] {0, 0.625, 0, 0.375}, p, 1e-7);
        assertDrawsFollow(p, logits, params, 100_000);

        SamplingParams wider = SAMPLED.withTopP(0.85); // 0.5 + 0.3 < 0.85, so 0.15 joins
        double[] q = Reference.distribution(logits, 0, 4, NO_HISTORY, wider);
        assertArrayEquals(new double[] {0, 0.5 / 0.95, 0.15 / 0.95, 0.3 / 0.95}, q, 1e-7);
        assertDrawsFollow(q, logits, wider, 100_000);
    }

    @Test
    void topPOnALargeVocabularyDrawsOnlyFromTheReferenceNucleus() {
        int vocab = 20_000;
        float[] logits = gaussian(17, vocab, 2.5);
        for (double topP : new double[] {0.5, 0.9, 0.999}) {
            SamplingParams params = SAMPLED.withTopP(topP).withTemperature(0.8);
            double[] p = Reference.distribution(logits, 0, vocab, NO_HISTORY, params);
            Sampler sampler = new Sampler(params);
            TokenHistory none = new TokenHistory();
            for (int d = 0; d < 1_000; d++) {
                Sample s = sampler.next(logits, 0, vocab, none);
                assertTrue(p[s.token()] > 0, "token " + s.token() + " is outside the nucleus at p=" + topP);
                assertLogprob(Math.log(p[s.token()]), s.logprob());
            }
        }
    }

    @Test
    void topKThenTopPFollowsTheReference() {
        float[] logits = gaussian(9, 40, 1.2);
        SamplingParams params = SAMPLED.withTopK(8).withTopP(0.6).withTemperature(0.9);
        double[] p = Reference.distribution(logits, 0, 40, NO_HISTORY, params);
        long support = Arrays.stream(p).filter(v -> v > 0).count();
        assertTrue(support > 1 && support < 8, "support " + support);
        assertDrawsFollow(p, logits, params, 100_000);
    }

    @Test
    void repetitionPenaltyPushesSeenTokensDownAndFlipsGreedy() {
        Sampler plain = new Sampler(SamplingParams.greedy(1));
        Sampler penalised = new Sampler(SamplingParams.greedy(1).withRepetitionPenalty(1.2));
        float[] positive = {2.0f, 1.9f, 0.5f};
        assertEquals(0, plain.next(positive, 0, 3, history(0)).token());
        assertEquals(1, penalised.next(positive, 0, 3, history(0)).token()); // 2.0 / 1.2 < 1.9
        assertEquals(0, penalised.next(positive, 0, 3, history(2)).token()); // only seen tokens change

        float[] negative = {-0.5f, -0.58f, -3f};
        assertEquals(0, plain.next(negative, 0, 3, history(0)).token());
        assertEquals(1, penalised.next(negative, 0, 3, history(0)).token()); // -0.5 * 1.2 < -0.58

        // Distinct tokens: a token seen three times is penalised once (2.0 / 1.2 > 1.6, but 2.0 / 1.2^3 < 1.6).
        assertEquals(0, penalised.next(new float[] {2.0f, 1.6f}, 0, 2, history(0, 0, 0)).token());

        // A penalty below 1 rewards repetition instead.
        Sampler boosting = new Sampler(SamplingParams.greedy(1).withRepetitionPenalty(0.5));
        assertEquals(0, boosting.next(new float[] {1.0f, 1.9f}, 0, 2, history(0)).token());
    }

    @Test
    void penalisedLogprobsMatchTheReferenceAndTheCallersLogitsStayIntact() {
        float[] logits = gaussian(13, 500, 2);
        float[] before = logits.clone();
        int[] seen = {3, 17, 17, 250, 499, 0};
        Sample g = new Sampler(SamplingParams.greedy(1).withRepetitionPenalty(1.3)).next(logits, 0, 500, history(seen));
        double[] greedyRef = Reference.greedyLogprobs(logits, 0, 500, seen, 1.3);
        assertEquals(Reference.ranked(Reference.penalised(logits, 0, 500, seen, 1.3))[0], g.token());
        assertLogprob(greedyRef[g.token()], g.logprob());

        SamplingParams params = SAMPLED.withRepetitionPenalty(1.3).withTopK(50).withTopP(0.9).withTemperature(0.7);
        double[] p = Reference.distribution(logits, 0, 500, seen, params);
        Sampler sampler = new Sampler(params);
        TokenHistory h = history(seen);
        for (int d = 0; d < 2_000; d++) {
            Sample s = sampler.next(logits, 0, 500, h);
            assertTrue(p[s.token()] > 0);
            assertLogprob(Math.log(p[s.token()]), s.logprob());
        }
        assertArrayEquals(before, logits);
    }

    private static List<Sample> generate(SamplingParams params, int steps) {
        Sampler sampler = new Sampler(params);
        TokenHistory h = history(1, 2, 3);
        SplittableRandom model = new SplittableRandom(99); // the same "model" outputs on every run
        List<Sample> out = new ArrayList<>();
        for (int step = 0; step < steps; step++) {
            float[] logits = new float[3_000];
            for (int i = 0; i < logits.length; i++) {
                logits[i] = (float) model.nextGaussian();
            }
            Sample s = sampler.next(logits, 0, logits.length, h);
            h.add(s.token());
            out.add(s);
        }
        return out;
    }

    @Test
    void theSameSeedGivesTheSameTokensAndAnotherSeedOthers() {
        for (SamplingParams params : List.of(SAMPLED, SAMPLED.withTopK(40), SAMPLED.withTopP(0.8),
                SAMPLED.withRepetitionPenalty(1.1).withTopK(100).withTopP(0.95).withTemperature(0.6))) {
            List<Sample> first = generate(params, 100);
            assertEquals(first, generate(params, 100));
            assertNotEquals(first, generate(params.withSeed(43L), 100));
        }
        assertNotEquals(generate(SAMPLED.withSeed(null), 100), generate(SAMPLED.withSeed(null), 100));
    }

    @Test
    void aSliceOfABatchIsSampledAsIfItStoodAlone() {
        int vocab = 3_000;
        float[] batch = gaussian(31, 3 * vocab, 1);
        float[] row = Arrays.copyOfRange(batch, vocab, 2 * vocab);
        batch[vocab - 1] = Float.NaN; // neighbours are never read
        batch[2 * vocab] = Float.POSITIVE_INFINITY;
        float[] before = batch.clone();
        for (SamplingParams params : List.of(SAMPLED, SAMPLED.withTopK(10), SAMPLED.withTopP(0.7),
                SamplingParams.greedy(1).withRepetitionPenalty(1.5))) {
            Sampler onBatch = new Sampler(params);
            Sampler onRow = new Sampler(params);
            for (int d = 0; d < 200; d++) {
                assertEquals(onRow.next(row, 0, vocab, history(5, 7)), onBatch.next(batch, vocab, vocab, history(5, 7)));
            }
        }
        assertArrayEquals(before, batch);
    }

    @Test
    void maskedTokensAreNeverDrawn() {
        float ninf = Float.NEGATIVE_INFINITY;
        float[] logits = {ninf, 0, ninf, 0.5f, ninf};
        double[] p = Reference.distribution(logits, 0, 5, NO_HISTORY, SAMPLED);
        assertDrawsFollow(p, logits, SAMPLED, 20_000);
    }

    @Test
    void extremeTemperaturesStayFinite() {
        float[] logits = gaussian(6, 100, 1);
        int argmax = new Sampler(SamplingParams.greedy(1)).next(logits, 0, 100, new TokenHistory()).token();
        Sample cold = new Sampler(SAMPLED.withTemperature(Double.MIN_VALUE)).next(logits, 0, 100, new TokenHistory());
        assertEquals(new Sample(argmax, 0f), cold);
        Sampler hot = new Sampler(SAMPLED.withTemperature(1e6));
        for (int d = 0; d < 100; d++) {
            assertLogprob(Math.log(0.01), hot.next(logits, 0, 100, new TokenHistory()).logprob());
        }
    }

    @Test
    void badInputsAreRejectedWithTheReason() {
        Sampler sampler = new Sampler(SAMPLED);
        TokenHistory none = new TokenHistory();
        assertEquals("vocab must be >= 1, got 0", assertThrows(IllegalArgumentException.class,
                () -> sampler.next(new float[4], 0, 0, none)).getMessage());
        assertThrows(IndexOutOfBoundsException.class, () -> sampler.next(new float[4], 1, 4, none));
        assertThrows(IndexOutOfBoundsException.class, () -> sampler.next(new float[4], -1, 2, none));
        assertThrows(NullPointerException.class, () -> sampler.next(new float[4], 0, 4, null));
        assertEquals("logit of token 2 is NaN", assertThrows(IllegalArgumentException.class,
                () -> sampler.next(new float[] {0, 1, Float.NaN}, 0, 3, none)).getMessage());
        assertEquals("logit of token 1 is +Infinity", assertThrows(IllegalArgumentException.class,
                () -> sampler.next(new float[] {0, Float.POSITIVE_INFINITY}, 0, 2, none)).getMessage());
        float ninf = Float.NEGATIVE_INFINITY;
        assertEquals("all 2 logits are -Infinity", assertThrows(IllegalArgumentException.class,
                () -> sampler.next(new float[] {ninf, ninf}, 0, 2, none)).getMessage());
        Sampler penalised = new Sampler(SAMPLED.withRepetitionPenalty(1.2));
        assertEquals("history token 9 is outside the vocab of 4", assertThrows(IllegalArgumentException.class,
                () -> penalised.next(new float[4], 0, 4, history(1, 9))).getMessage());
    }
}
