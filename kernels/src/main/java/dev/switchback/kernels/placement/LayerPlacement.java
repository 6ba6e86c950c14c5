package dev.switchback.kernels.placement;

import java.util.Arrays;

/**
 * One sparse layer's experts on {@code devices} devices: {@code replicas[e]} lists the devices holding expert e.
 * An expert held by r devices has its tokens of each step split into r near-equal contiguous shares, one per replica.
 */
public record LayerPlacement(int devices, int[][] replicas) {
    public LayerPlacement {
        if (devices < 1) {
            throw new IllegalArgumentException("devices must be >= 1, got " + devices);
        }
        if (replicas.length == 0) {
            throw new IllegalArgumentException("a placement needs at least one expert");
        }
        int[][] copy = new int[replicas.length][];
        for (int e = 0; e < replicas.length; e++) {
            int[] r = replicas[e];
            if (r == null || r.length == 0) {
                throw new IllegalArgumentException("expert " + e + " is on no device");
            }
            boolean[] seen = new boolean[devices];
            for (int d : r) {
                if (d < 0 || d >= devices) {
                    throw new IllegalArgumentException("expert " + e + " is placed on device " + d + " of " + devices);
                }
                if (seen[d]) {
                    throw new IllegalArgumentException("expert " + e + " has two replicas on device " + d);
                }
                seen[d] = true;
            }
            copy[e] = r.clone();
        }
        replicas = copy;
    }

    public int experts() {
        return replicas.length;
    }

    /** The devices holding expert {@code e}, first replica first. */
    public int[] devicesOf(int e) {
        return replicas[e].clone();
    }

    /** How many experts (replicas included) each device holds: its share of the layer's expert weights. */
    public int[] expertsPerDevice() {
        int[] held = new int[devices];
        for (int[] r : replicas) {
            for (int d : r) {
                held[d]++;
            }
        }
        return held;
    }

    /**
     * Tokens each device computes when expert e receives {@code tokens[e]}: each expert's tokens split over its
     * replicas as {@link #share} splits them.
     */
    public long[] deviceLoad(long[] tokens) {
        if (tokens.length != replicas.length) {
            throw new IllegalArgumentException("token counts for " + tokens.length + " experts, placement has " + replicas.length);
        }
        long[] load = new long[devices];
        for (int e = 0; e < replicas.length; e++) {
            int r = replicas[e].length;
            for (int i = 0; i < r; i++) {
                load[replicas[e][i]] += share(tokens[e], r, i);
            }
        }
        return load;
    }

    /** The first token index of replica {@code i}'s share when {@code count} tokens are split over {@code r} replicas. */
    public static int shareStart(int count, int r, int i) {
        return (int) ((long) count * i / r);
    }

    /** Tokens replica {@code i} of {@code r} computes out of {@code count}. */
    public static long share(long count, int r, int i) {
        return count * (i + 1) / r - count * i / r;
    }

    /** Max over mean of the devices' loads: 1.0 when every device computes the same number of tokens. */
    public static double imbalance(long[] load) {
        long total = Arrays.stream(load).sum();
        if (total == 0) {
            return 1.0;
        }
        long max = Arrays.stream(load).max().orElse(0);
        return max / ((double) total / load.length);
    }
}
