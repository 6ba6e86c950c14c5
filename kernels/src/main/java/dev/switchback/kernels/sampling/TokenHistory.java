package dev.switchback.kernels.sampling;

import java.util.Arrays;

/** The distinct tokens of one sequence so far (prompt and generated), for the repetition penalty. */
public final class TokenHistory {
    // The bitset answers "seen?" in O(1); the list lets the penalty visit only the seen tokens, not the vocab.
    private long[] seen = new long[64];
    private int[] distinct = new int[64];
    private int size;

    /** Records a token; a token already seen changes nothing. */
    public void add(int token) {
        if (token < 0) {
            throw new IllegalArgumentException("token must be >= 0, got " + token);
        }
        int word = token >>> 6;
        if (word >= seen.length) {
            seen = Arrays.copyOf(seen, Math.max(word + 1, seen.length * 2));
        }
        long bit = 1L << token;
        if ((seen[word] & bit) != 0) {
            return;
        }
        seen[word] |= bit;
        if (size == distinct.length) {
            distinct = Arrays.copyOf(distinct, size * 2);
        }
        distinct[size++] = token;
    }

    /** Records every token of {@code tokens}, e.g. a prompt. */
    public void addAll(int[] tokens) {
        for (int t : tokens) {
            add(t);
        }
    }

    public boolean contains(int token) {
        int word = token >>> 6;
        return token >= 0 && word < seen.length && (seen[word] & (1L << token)) != 0;
    }

    /** Number of distinct tokens seen. */
    public int size() {
        return size;
    }

    /** The i-th distinct token in order of first appearance. */
    int token(int i) {
        return distinct[i];
    }
}
