package dev.switchback.store.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.function.IntConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The standard fast BPE training: count pre-tokenized words once, count adjacent pairs weighted by word count,
 * then per merge update only the words that contain the merged pair (found through a pair → words index), with a
 * lazily corrected max-heap of pair counts. Same choices as {@code tokenizers}' BpeTrainer.
 */
final class BpeTrainer {
    private BpeTrainer() {}

    /** A heap entry; its count may be stale and is checked against the live count when popped. */
    private record Candidate(long count, long pair) {}

    static BpeTokenizer train(List<String> texts, int vocabSize, List<String> specialTokens, IntConsumer progress) {
        Objects.requireNonNull(texts, "texts");
        List<String> specials = specials(specialTokens);
        int minimum = specials.size() + 256;
        if (vocabSize < minimum) {
            throw new IllegalArgumentException("vocabSize: must be >= " + minimum + " (256 byte tokens + "
                    + specials.size() + " special tokens), got " + vocabSize);
        }

        List<String> tokens = new ArrayList<>(vocabSize);
        Map<String, Integer> ids = new HashMap<>(vocabSize * 2);
        for (String special : specials) {
            ids.put(special, tokens.size());
            tokens.add(special);
        }
        // Byte tokens in code-point order of their characters, as tokenizers' trainer sorts its alphabet.
        char[] alphabet = new char[256];
        for (int b = 0; b < 256; b++) {
            alphabet[b] = ByteLevel.charOf(b);
        }
        Arrays.sort(alphabet);
        int[] byteToId = new int[256];
        for (char c : alphabet) {
            byteToId[ByteLevel.byteOf(c)] = tokens.size();
            ids.put(String.valueOf(c), tokens.size());
            tokens.add(String.valueOf(c));
        }

        Words words = countWords(texts, specials, byteToId);
        PairMap pairCounts = new PairMap(1 << 16);
        PairMap pairSlot = new PairMap(1 << 16);
        List<IntList> wordsWithPair = new ArrayList<>();
        for (int w = 0; w < words.count(); w++) {
            int[] s = words.symbols[w];
            for (int i = 0; i + 1 < words.length[w]; i++) {
                long pair = PairMap.pair(s[i], s[i + 1]);
                pairCounts.add(pair, words.frequency[w]);
                index(pairSlot, wordsWithPair, pair).add(w);
            }
        }
        PriorityQueue<Candidate> heap = new PriorityQueue<>(Math.max(16, pairCounts.size()), (x, y) ->
                x.count != y.count ? Long.compare(y.count, x.count) : Long.compare(x.pair, y.pair));
        pairCounts.forEach((pair, count) -> heap.add(new Candidate(count, pair)));

        List<Long> mergePairs = new ArrayList<>();
        List<Integer> mergeIds = new ArrayList<>();
        int[] seenInMerge = new int[words.count()];
        while (tokens.size() < vocabSize && !heap.isEmpty()) {
            Candidate top = heap.poll();
            long live = pairCounts.get(top.pair, 0);
            if (live != top.count) {
                if (live > 0) {
                    heap.add(new Candidate(live, top.pair));
                }
                continue;
            }
            int a = PairMap.first(top.pair);
            int b = PairMap.second(top.pair);
            String merged = tokens.get(a) + tokens.get(b);
            // Two different merges can spell the same string; like tokenizers, reuse its id.
            Integer existing = ids.get(merged);
            int c = existing != null ? existing : tokens.size();
            if (existing == null) {
                ids.put(merged, c);
                tokens.add(merged);
            }
            mergePairs.add(top.pair);
            mergeIds.add(c);

            IntList affected = wordsWithPair.get((int) pairSlot.get(top.pair, -1));
            int stamp = mergePairs.size();
            Set<Long> increased = new HashSet<>();
            for (int k = 0; k < affected.size(); k++) {
                int w = affected.get(k);
                if (seenInMerge[w] == stamp) {
                    continue;
                }
                seenInMerge[w] = stamp;
                mergeInWord(words, w, a, b, c, pairCounts, pairSlot, wordsWithPair, increased);
            }
            pairCounts.put(top.pair, 0);
            wordsWithPair.set((int) pairSlot.get(top.pair, -1), new IntList(0));
            // Only increased pairs need fresh entries; decreases are corrected lazily when popped.
            for (long pair : increased) {
                long count = pairCounts.get(pair, 0);
                if (count > 0) {
                    heap.add(new Candidate(count, pair));
                }
            }
            if (progress != null) {
                progress.accept(mergePairs.size());
            }
        }

        long[] pairs = mergePairs.stream().mapToLong(Long::longValue).toArray();
        int[] results = mergeIds.stream().mapToInt(Integer::intValue).toArray();
        return new BpeTokenizer(tokens.toArray(String[]::new), BpeTokenizer.specials(specials), pairs, results);
    }

    /**
     * Replaces every non-overlapping (a, b) in word {@code w}, left to right, by c, and moves the pair counts of
     * the neighbours: (prev, a) becomes (prev, c) and (b, next) becomes (c, next), weighted by word frequency.
     */
    private static void mergeInWord(Words words, int w, int a, int b, int c, PairMap pairCounts, PairMap pairSlot,
            List<IntList> wordsWithPair, Set<Long> increased) {
        int[] s = words.symbols[w];
        int n = words.length[w];
        long f = words.frequency[w];
        int out = 0;
        for (int r = 0; r < n; ) {
            if (r + 1 < n && s[r] == a && s[r + 1] == b) {
                if (out > 0) {
                    // s[out - 1] is already rewritten, so a run "a b a b" correctly yields (c, c).
                    pairCounts.add(PairMap.pair(s[out - 1], a), -f);
                    added(PairMap.pair(s[out - 1], c), f, w, pairCounts, pairSlot, wordsWithPair, increased);
                }
                if (r + 2 < n) {
                    pairCounts.add(PairMap.pair(b, s[r + 2]), -f);
                    added(PairMap.pair(c, s[r + 2]), f, w, pairCounts, pairSlot, wordsWithPair, increased);
                }
                s[out++] = c;
                r += 2;
            } else {
                s[out++] = s[r++];
            }
        }
        words.length[w] = out;
    }

    private static void added(long pair, long f, int w, PairMap pairCounts, PairMap pairSlot,
            List<IntList> wordsWithPair, Set<Long> increased) {
        pairCounts.add(pair, f);
        index(pairSlot, wordsWithPair, pair).add(w);
        increased.add(pair);
    }

    private static IntList index(PairMap pairSlot, List<IntList> wordsWithPair, long pair) {
        long slot = pairSlot.get(pair, -1);
        if (slot < 0) {
            slot = wordsWithPair.size();
            pairSlot.put(pair, slot);
            wordsWithPair.add(new IntList(4));
        }
        return wordsWithPair.get((int) slot);
    }

    private static List<String> specials(List<String> requested) {
        List<String> specials = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        if (requested == null || !requested.contains(BpeTokenizer.END_OF_TEXT)) {
            specials.add(BpeTokenizer.END_OF_TEXT);
            seen.add(BpeTokenizer.END_OF_TEXT);
        }
        for (String s : requested == null ? List.<String>of() : requested) {
            if (s == null || s.isEmpty()) {
                throw new IllegalArgumentException("specialTokens: a special token must be non-empty text");
            }
            if (!seen.add(s)) {
                throw new IllegalArgumentException("specialTokens: '" + s + "' is listed twice");
            }
            specials.add(s);
        }
        return specials;
    }

    /** Unique pre-tokens as byte-token id sequences, with how often each occurs. */
    private record Words(int[][] symbols, int[] length, long[] frequency) {
        int count() {
            return symbols.length;
        }
    }

    private static Words countWords(List<String> texts, List<String> specials, int[] byteToId) {
        // Special-token text is not learnt from, as in tokenizers, where added tokens are cut out first.
        Pattern specialSplit = Pattern.compile(specials.stream().map(Pattern::quote).reduce((x, y) -> x + "|" + y)
                .orElseThrow());
        Map<String, long[]> counts = new HashMap<>(1 << 16);
        for (String text : texts) {
            String s = ByteLevel.replaceLoneSurrogates(text);
            Matcher special = specialSplit.matcher(s);
            int start = 0;
            while (special.find()) {
                countSegment(s, start, special.start(), counts);
                start = special.end();
            }
            countSegment(s, start, s.length(), counts);
        }
        int n = counts.size();
        int[][] symbols = new int[n][];
        int[] length = new int[n];
        long[] frequency = new long[n];
        // Sorted so that the word order, and with it every tie, does not depend on hash iteration order.
        List<String> sorted = new ArrayList<>(counts.keySet());
        sorted.sort(null);
        for (int w = 0; w < n; w++) {
            String word = sorted.get(w);
            byte[] bytes = word.getBytes(StandardCharsets.UTF_8);
            symbols[w] = new int[bytes.length];
            for (int i = 0; i < bytes.length; i++) {
                symbols[w][i] = byteToId[bytes[i] & 0xFF];
            }
            length[w] = bytes.length;
            frequency[w] = counts.get(word)[0];
        }
        return new Words(symbols, length, frequency);
    }

    private static void countSegment(String s, int start, int end, Map<String, long[]> counts) {
        if (start == end) {
            return;
        }
        Matcher m = ByteLevel.PRE_TOKENIZER.matcher(s).region(start, end);
        while (m.find()) {
            counts.computeIfAbsent(s.substring(m.start(), m.end()), k -> new long[1])[0]++;
        }
    }
}
