package dev.switchback.kernels.sampling;

import java.util.Arrays;

/** The tokens a step may draw, with their unnormalised probabilities; reused from token to token. */
final class Support {
    private int[] tokens = new int[16];
    private double[] weights = new double[16];
    private int size;
    private double total;

    void clear() {
        size = 0;
        total = 0;
    }

    void add(int token, double weight) {
        if (size == tokens.length) {
            tokens = Arrays.copyOf(tokens, 2 * size);
            weights = Arrays.copyOf(weights, 2 * size);
        }
        tokens[size] = token;
        weights[size++] = weight;
        total += weight;
    }

    int size() {
        return size;
    }

    int token(int i) {
        return tokens[i];
    }

    /** The sum of the weights, added in order. */
    double total() {
        return total;
    }

    /** For a support ranked best first: keeps the shortest prefix whose weight reaches {@code p} of the total. */
    void truncateToNucleus(double p) {
        double bound = p * total;
        double cumulative = 0;
        int n = 0;
        while (n < size && cumulative < bound) {
            cumulative += weights[n++];
        }
        size = n;
        total = cumulative;
    }

    /** The token at which the running sum of weights first exceeds {@code u01 * total()}. */
    int draw(double u01) {
        double u = u01 * total;
        // The running sum is added in the same order as the total, so it ends at exactly total, which exceeds u;
        // the last positive weight is only a guard.
        double cumulative = 0;
        int chosen = 0;
        for (int i = 0; i < size; i++) {
            cumulative += weights[i];
            if (weights[i] > 0) {
                chosen = i;
                if (u < cumulative) {
                    break;
                }
            }
        }
        return tokens[chosen];
    }
}
