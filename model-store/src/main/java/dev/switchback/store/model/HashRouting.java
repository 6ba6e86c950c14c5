package dev.switchback.store.model;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Hash Layers routing (Roller et al.): the single implementation of token id → expert used by the trainer
 * and the engine. Routing keys on the original input token ids, never on hidden states, so a token meets the
 * same expert in every hash layer and every Ladder pass.
 */
public final class HashRouting {
    /** The fixed prime of the bigram hash (x_t mod N + (p·x_{t−1}) mod N) mod N. */
    public static final long BIGRAM_PRIME = 1_000_003L;

    private final Architecture.HashKind kind;
    private final int experts;
    private final int[] table;

    /** Wraps a table (one expert per token id), as built by {@link #build} or read from a saved model. */
    public HashRouting(Architecture.HashKind kind, int experts, int[] table) {
        if (experts < 2) {
            throw new ConfigException("architecture.experts", "a sparse model needs at least 2 experts, got " + experts);
        }
        for (int i = 0; i < table.length; i++) {
            if (table[i] < 0 || table[i] >= experts) {
                throw new IllegalArgumentException("hash.table[" + i + "] = " + table[i] + " is not an expert in [0, " + experts + ")");
            }
        }
        this.kind = kind;
        this.experts = experts;
        this.table = table.clone();
    }

    /**
     * Builds the table for {@code kind}: {@code random} draws each token's expert uniformly with {@code seed};
     * {@code balanced} assigns token ids in decreasing corpus frequency, each to the expert with the least token
     * mass so far (so experts receive near-equal mass); {@code bigram} stores x mod N, combined with the previous
     * token at routing time.
     *
     * @param tokenCounts corpus frequency of each token id (length = vocabulary size); used by {@code balanced}
     */
    public static HashRouting build(Architecture.HashKind kind, int experts, long[] tokenCounts, long seed) {
        int vocab = tokenCounts.length;
        int[] table = new int[vocab];
        switch (kind) {
            case random -> {
                SplittableRandom rng = new SplittableRandom(seed);
                for (int i = 0; i < vocab; i++) {
                    table[i] = rng.nextInt(experts);
                }
            }
            case bigram -> {
                for (int i = 0; i < vocab; i++) {
                    table[i] = i % experts;
                }
            }
            case balanced -> {
                Integer[] order = new Integer[vocab];
                for (int i = 0; i < vocab; i++) {
                    order[i] = i;
                }
                Arrays.sort(order, (a, b) -> tokenCounts[b] != tokenCounts[a] ? Long.compare(tokenCounts[b], tokenCounts[a]) : Integer.compare(a, b));
                long[] mass = new long[experts];
                int[] types = new int[experts];
                for (int id : order) {
                    int best = 0;
                    for (int e = 1; e < experts; e++) {
                        // Ties in mass (e.g. unseen tokens) go to the expert holding fewer token types.
                        if (mass[e] < mass[best] || (mass[e] == mass[best] && types[e] < types[best])) {
                            best = e;
                        }
                    }
                    table[id] = best;
                    mass[best] += tokenCounts[id];
                    types[best]++;
                }
            }
        }
        return new HashRouting(kind, experts, table);
    }

    /** The expert of token {@code current}, whose predecessor in the sequence is {@code previous} (0 at the start). */
    public int expert(int previous, int current) {
        int base = table[current];
        if (kind != Architecture.HashKind.bigram) {
            return base;
        }
        return (int) ((base + Math.floorMod(BIGRAM_PRIME * previous, (long) experts)) % experts);
    }

    /** Routes a whole sequence: expert of each position, using the sequence's own previous token for bigrams. */
    public int[] route(int[] tokens) {
        int[] out = new int[tokens.length];
        for (int t = 0; t < tokens.length; t++) {
            out[t] = expert(t == 0 ? 0 : tokens[t - 1], tokens[t]);
        }
        return out;
    }

    public Architecture.HashKind kind() {
        return kind;
    }

    public int experts() {
        return experts;
    }

    /** A copy of the token id → expert table, as saved in the model ({@code hash.table}). */
    public int[] table() {
        return table.clone();
    }
}
