package dev.switchback.kernels.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The package's inner kernels against their references: vector passes, ranking keys, top-k, the nucleus. */
class KernelsTest {
    private static final int[] SIZES = {1, 7, 8, 15, 16, 17, LogitKernels.BLOCK - 1, LogitKernels.BLOCK,
            LogitKernels.BLOCK + 1, 5_003, 151_936};

    private static float[] logits(SplittableRandom random, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = i % 97 == 3 ? Float.NEGATIVE_INFINITY : (float) (random.nextGaussian() * 5);
        }
        return x;
    }

    @Test
    void theVectorPathIsTheOneUnderTest() {
        assertTrue(LogitKernels.VECTOR, "surefire adds jdk.incubator.vector, so the fast path runs in these tests");
    }

    @Test
    void vectorMaxMatchesTheScalarReferenceIncludingNaN() {
        SplittableRandom random = new SplittableRandom(4);
        for (int n : SIZES) {
            float[] x = logits(random, n);
            assertEquals(LogitKernels.maxScalar(x, n), VectorLogitKernels.max(x, n), "n=" + n);
            float[] prefix = Arrays.copyOf(x, n);
            assertEquals(LogitKernels.maxScalar(prefix, n - n / 2), VectorLogitKernels.max(prefix, n - n / 2));
            x[random.nextInt(n)] = Float.NaN;
            assertTrue(Float.isNaN(VectorLogitKernels.max(x, n)), "n=" + n);
        }
        assertEquals(Float.NEGATIVE_INFINITY, VectorLogitKernels.max(new float[40], 0));
    }

    @Test
    void vectorExpSumsMatchTheScalarReference() {
        SplittableRandom random = new SplittableRandom(1);
        for (int n : SIZES) {
            float[] x = logits(random, n);
            float max = LogitKernels.maxScalar(x, n);
            for (double scale : new double[] {1, 1 / 0.7, 1e-3, Double.MAX_VALUE}) {
                double[] fast = new double[LogitKernels.blocks(n)];
                double[] scalar = new double[LogitKernels.blocks(n)];
                double[] fastWeights = new double[n];
                double[] scalarWeights = new double[n];
                double fastTotal = VectorLogitKernels.expSums(x, n, max, scale, fast, fastWeights);
                double scalarTotal = LogitKernels.expSumsScalar(x, n, max, scale, scalar, scalarWeights);
                assertEquals(scalarTotal, fastTotal, 1e-13 * scalarTotal, "n=" + n + " scale=" + scale);
                for (int b = 0; b < fast.length; b++) {
                    assertEquals(scalar[b], fast[b], 1e-13 * scalarTotal, "block " + b);
                }
                for (int i = 0; i < n; i++) {
                    assertEquals(scalarWeights[i], fastWeights[i], 2 * Math.ulp(scalarWeights[i]), "weight " + i);
                }
                assertEquals(fastTotal, VectorLogitKernels.expSums(x, n, max, scale, fast, null));
                double sequential = 0;
                for (int i = 0; i < n; i++) {
                    sequential += Math.exp((x[i] - (double) max) * scale);
                }
                // Summation order alone moves a sum of n terms by up to about n ulps.
                assertEquals(sequential, scalarTotal, n * 2e-16 * sequential);
            }
        }
    }

    @Test
    void vectorCutoffMatchesTheScalarReference() {
        SplittableRandom random = new SplittableRandom(6);
        for (int n : SIZES) {
            float[] x = logits(random, n);
            float max = LogitKernels.maxScalar(x, n);
            for (double cutoff : new double[] {0, -0.5, -3, -12, -1e9}) {
                int[] fast = new int[n];
                int[] scalar = new int[n];
                int m = VectorLogitKernels.atLeast(x, n, max, 1.3, cutoff, fast);
                assertEquals(LogitKernels.atLeastScalar(x, n, max, 1.3, cutoff, scalar), m, "n=" + n);
                assertArrayEquals(Arrays.copyOf(scalar, m), Arrays.copyOf(fast, m), "n=" + n + " cutoff=" + cutoff);
            }
        }
    }

    private static int[] ranked(float[] x) {
        return IntStream.range(0, x.length)
                .boxed()
                .sorted((a, b) -> x[a] != x[b] ? Float.compare(x[b], x[a]) : Integer.compare(a, b))
                .mapToInt(Integer::intValue)
                .toArray();
    }

    @Test
    void keysOrderTokensByLogitThenLowerId() {
        float[] values = {Float.NEGATIVE_INFINITY, -Float.MAX_VALUE, -2.5f, -1, -Float.MIN_VALUE, -0.0f, 0.0f,
                Float.MIN_VALUE, 1, 3.25f, Float.MAX_VALUE};
        for (int a = 0; a < values.length; a++) {
            for (int b = 0; b < values.length; b++) {
                for (int[] ids : new int[][] {{0, 1}, {1, 0}, {5, 151_935}, {Integer.MAX_VALUE, 0}}) {
                    boolean better = values[a] > values[b] || (values[a] == values[b] && ids[0] < ids[1]);
                    boolean keyBetter = Ranking.key(values[a], ids[0]) > Ranking.key(values[b], ids[1]);
                    assertEquals(better, keyBetter, values[a] + "#" + ids[0] + " vs " + values[b] + "#" + ids[1]);
                }
            }
        }
        assertEquals(151_935, Ranking.token(Ranking.key(-3, 151_935)));
    }

    @Test
    void topKMatchesAFullSortIncludingTies() {
        SplittableRandom random = new SplittableRandom(2);
        for (int trial = 0; trial < 300; trial++) {
            int n = 1 + random.nextInt(2_000);
            float[] x = new float[n];
            int distinct = 1 + random.nextInt(50);
            for (int i = 0; i < n; i++) {
                x[i] = i % 11 == 0 ? Float.NEGATIVE_INFINITY : random.nextInt(distinct) * (i % 2 == 0 ? 1 : -1);
            }
            int k = 1 + random.nextInt(n);
            long[] out = new long[k];
            Ranking.topK(x, n, k, out);
            int[] tokens = Arrays.stream(out).mapToInt(Ranking::token).toArray();
            assertArrayEquals(Arrays.copyOf(ranked(x), k), tokens, "n=" + n + " k=" + k);
        }
    }

    @Test
    void pollingTheBestHeapYieldsTheRanking() {
        SplittableRandom random = new SplittableRandom(3);
        for (int trial = 0; trial < 40; trial++) {
            int n = 1 + random.nextInt(3_000);
            float[] x = new float[n];
            for (int i = 0; i < n; i++) {
                x[i] = random.nextInt(1 + random.nextInt(100));
            }
            long[] heap = IntStream.range(0, n).mapToLong(i -> Ranking.key(x[i], i)).toArray();
            Ranking.heapifyBest(heap, n);
            int[] polled = new int[n];
            for (int i = 0; i < n; i++) {
                polled[i] = Ranking.token(Ranking.pollBest(heap, n - i));
            }
            assertArrayEquals(ranked(x), polled);
        }
    }

    /** The nucleus by a full sort, as a set of tokens. */
    private static boolean[] referenceNucleus(float[] x, double max, double scale, double p) {
        double[] w = new double[x.length];
        double total = 0;
        for (int i = 0; i < x.length; i++) {
            w[i] = Math.exp((x[i] - max) * scale);
            total += w[i];
        }
        boolean[] in = new boolean[x.length];
        double cumulative = 0;
        for (int t : ranked(x)) {
            if (cumulative >= p * total) {
                break;
            }
            in[t] = true;
            cumulative += w[t];
        }
        return in;
    }

    @Test
    void nucleusMatchesAFullSortOnFlatPeakedAndTiedDistributions() {
        SplittableRandom random = new SplittableRandom(5);
        Nucleus nucleus = new Nucleus();
        Support support = new Support();
        for (int trial = 0; trial < 108; trial++) {
            int n = 1 + random.nextInt(trial < 100 ? 3_000 : 151_936);
            double sd = new double[] {0.01, 0.5, 2, 8}[trial % 4];
            boolean ties = trial % 3 == 0;
            float[] x = new float[n];
            for (int i = 0; i < n; i++) {
                x[i] = ties ? Math.round(random.nextGaussian() * sd * 4) / 4f : (float) (random.nextGaussian() * sd);
            }
            double p = new double[] {0.05, 0.5, 0.9, 0.99, 0.999999}[random.nextInt(5)];
            double scale = 1 / (0.3 + 1.5 * random.nextDouble());
            float max = LogitKernels.maxScalar(x, n);
            double[] weights = new double[n];
            double total = LogitKernels.expSums(x, n, max, scale, new double[LogitKernels.blocks(n)], weights);
            nucleus.select(x, n, max, scale, weights, total, p, support);
            boolean[] expected = referenceNucleus(x, max, scale, p);
            boolean[] actual = new boolean[n];
            for (int i = 0; i < support.size(); i++) {
                actual[support.token(i)] = true;
            }
            assertArrayEquals(expected, actual, "trial " + trial + " n=" + n + " sd=" + sd + " p=" + p);
            assertEquals(support.size(), IntStream.range(0, n).filter(i -> expected[i]).count());
        }
    }

    @Test
    void supportDrawsByCumulativeWeightAndTruncatesToTheNucleus() {
        Support s = new Support();
        for (int i = 0; i < 40; i++) { // more than the initial capacity
            s.add(100 + i, i < 4 ? new double[] {4, 3, 2, 1}[i] : 0);
        }
        assertEquals(10, s.total());
        assertEquals(100, s.draw(0));
        assertEquals(100, s.draw(0.399));
        assertEquals(101, s.draw(0.4));
        assertEquals(103, s.draw(0.9999));
        s.truncateToNucleus(0.7); // 4 + 3 reaches 7
        assertEquals(2, s.size());
        assertEquals(7, s.total());
        assertEquals(101, s.draw(0.99));
    }
}
