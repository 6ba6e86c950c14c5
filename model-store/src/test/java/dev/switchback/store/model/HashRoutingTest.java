package dev.switchback.store.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.store.corpus.Corpus;
import dev.switchback.store.tokenizer.BpeTokenizer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class HashRoutingTest {
    private static int[] tokens;
    private static long[] counts;

    @BeforeAll
    static void encodeExcerpt() throws Exception {
        Corpus corpus = Corpus.load(Path.of(HashRoutingTest.class.getResource("/kjv-excerpt.txt").toURI()));
        BpeTokenizer tok = BpeTokenizer.train(corpus.trainTexts(), 1024, List.of(BpeTokenizer.END_OF_TEXT), null);
        StringBuilder sb = new StringBuilder();
        for (String t : corpus.trainTexts()) {
            sb.append(t).append('\n');
        }
        tokens = tok.encodeOrdinary(sb.toString());
        counts = new long[tok.vocabSize()];
        for (int t : tokens) {
            counts[t]++;
        }
    }

    @Test
    void balancedTableGivesEveryExpertNearEqualTokenMass() {
        for (int experts : new int[] {4, 8, 16}) {
            HashRouting r = HashRouting.build(Architecture.HashKind.balanced, experts, counts, 1);
            long[] mass = new long[experts];
            for (int e : r.route(tokens)) {
                mass[e]++;
            }
            double mean = (double) tokens.length / experts;
            for (int e = 0; e < experts; e++) {
                assertTrue(Math.abs(mass[e] - mean) / mean < 0.05,
                        experts + " experts: expert " + e + " has " + mass[e] + " tokens, mean " + mean);
            }
        }
    }

    @Test
    void balancedTableIsWithinFivePercentOnTheWholeKjvTrainingSplit() throws Exception {
        String shared = System.getProperty("switchback.shared");
        Path kjv = Path.of(shared != null ? shared : "../../shared", "corpus", "kjv.txt.gz");
        org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isRegularFile(kjv), "no shared corpus at " + kjv);
        Corpus corpus = Corpus.load(kjv);
        BpeTokenizer tok = BpeTokenizer.train(corpus.trainTexts(), 4096, List.of(BpeTokenizer.END_OF_TEXT), null);
        int[] all = tok.encodeOrdinary(String.join("\n", corpus.trainTexts()));
        long[] freq = new long[tok.vocabSize()];
        for (int t : all) {
            freq[t]++;
        }
        for (int experts : new int[] {8, 16, 64}) {
            HashRouting r = HashRouting.build(Architecture.HashKind.balanced, experts, freq, 1);
            long[] mass = new long[experts];
            for (int e : r.route(all)) {
                mass[e]++;
            }
            // A token cannot be split: an expert holding one token more frequent than the mean is exempt, and the
            // others share the rest. With 8 experts (the shipped configs) no token is that frequent.
            int[] table = r.table();
            long rest = all.length;
            int exempt = 0;
            for (int e = 0; e < experts; e++) {
                if (mass[e] > (double) all.length / experts && holdsOneToken(table, freq, e)) {
                    rest -= mass[e];
                    exempt++;
                }
            }
            assertTrue(experts > 8 || exempt == 0, "with 8 experts every expert is balanced");
            double mean = (double) rest / (experts - exempt);
            for (int e = 0; e < experts; e++) {
                if (mass[e] > (double) all.length / experts && holdsOneToken(table, freq, e)) {
                    continue;
                }
                assertTrue(Math.abs(mass[e] - mean) / mean < 0.05, experts + " experts: expert " + e + " mass " + mass[e] + " vs " + mean);
            }
        }
    }

    @Test
    void randomTableIsFarLessBalancedThanTheBalancedOne() {
        HashRouting random = HashRouting.build(Architecture.HashKind.random, 16, counts, 1);
        HashRouting balanced = HashRouting.build(Architecture.HashKind.balanced, 16, counts, 1);
        assertTrue(maxOverMean(random) > maxOverMean(balanced), "balanced beats random on max/mean load");
    }

    @Test
    void identicalTokenIdsMeetTheSameExpert() {
        for (Architecture.HashKind kind : Architecture.HashKind.values()) {
            HashRouting r = HashRouting.build(kind, 8, counts, 3);
            int[] experts = r.route(tokens);
            Map<Long, Integer> seen = new HashMap<>();
            for (int t = 0; t < tokens.length; t++) {
                // Unigram tables key on the token id; bigram on (previous, current).
                long key = kind == Architecture.HashKind.bigram ? ((long) (t == 0 ? 0 : tokens[t - 1]) << 32) | tokens[t] : tokens[t];
                Integer before = seen.putIfAbsent(key, experts[t]);
                if (before != null) {
                    assertEquals(before, experts[t], kind + " routes token " + tokens[t] + " consistently");
                }
                assertTrue(experts[t] >= 0 && experts[t] < 8);
            }
        }
    }

    @Test
    void bigramFollowsTheFormula() {
        HashRouting r = HashRouting.build(Architecture.HashKind.bigram, 8, new long[100], 0);
        for (int prev = 0; prev < 100; prev++) {
            for (int cur = 0; cur < 100; cur += 7) {
                assertEquals((cur % 8 + (HashRouting.BIGRAM_PRIME * prev) % 8) % 8, r.expert(prev, cur));
            }
        }
        assertArrayEquals(new int[] {3, (int) ((4 + HashRouting.BIGRAM_PRIME * 3 % 8) % 8)}, r.route(new int[] {3, 4}));
    }

    @Test
    void tableEntriesOutsideTheExpertsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new HashRouting(Architecture.HashKind.random, 4, new int[] {0, 4}));
        assertThrows(ConfigException.class, () -> new HashRouting(Architecture.HashKind.random, 1, new int[] {0}));
    }

    private static boolean holdsOneToken(int[] table, long[] freq, int expert) {
        int seen = 0;
        for (int id = 0; id < table.length; id++) {
            if (table[id] == expert && freq[id] > 0) {
                seen++;
            }
        }
        return seen == 1;
    }

    private double maxOverMean(HashRouting r) {
        long[] mass = new long[r.experts()];
        for (int e : r.route(tokens)) {
            mass[e]++;
        }
        long max = 0;
        for (long m : mass) {
            max = Math.max(max, m);
        }
        return max / ((double) tokens.length / r.experts());
    }
}
