package dev.switchback.kernels.engine;

import dev.switchback.kernels.kv.BlockPool;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.stream.IntStream;

/**
 * Which GPU of a sharded group ({@link ShardedCudaEngine}) holds each sequence: a sequence stays on the GPU that holds
 * its keys and values; a new one goes to the GPU that wrote its cached prefix blocks, if any, else to the GPU holding
 * the fewest sequences. A sequence whose blocks are gone (closed, preempted) holds nothing anywhere and is placed
 * afresh when it comes back.
 */
final class RankAssignment {
    private final int ranks;
    private final Map<Sequence, Integer> homes = new WeakHashMap<>();
    /** Per KV block, the rank that last wrote it (−1: none yet). */
    private int[] blockOwners;

    RankAssignment(int ranks) {
        if (ranks < 1) {
            throw new IllegalArgumentException("ranks must be >= 1, got " + ranks);
        }
        this.ranks = ranks;
    }

    /**
     * A call's steps split over the ranks: each step's rank, every rank's token count, and every token id and
     * predecessor in rank order (rank 0's steps in call order, then rank 1's, ...).
     */
    record Split(int[] rank, int[] tokens, int[] ids, int[] previous) {
        /** Where rank r's steps stand in the call, in call order (its results come back in this order). */
        int[] positions(int r) {
            return IntStream.range(0, rank.length).filter(i -> rank[i] == r).toArray();
        }

        /** Rank r's items of a per-step list. */
        <T> List<T> own(int r, List<T> items) {
            return Arrays.stream(positions(r)).mapToObj(items::get).toList();
        }
    }

    /**
     * Assigns each step's sequence its GPU (its own from earlier calls; for a new one, the GPU that wrote its cached
     * prefix blocks, else the GPU holding the fewest sequences, then the fewest tokens of this call) and lays the
     * call's tokens out in GPU order.
     */
    Split split(List<Engine.Step> steps) {
        int n = ranks;
        int[] rank = new int[steps.size()];
        int[] tokens = new int[n];
        // Sequences each GPU holds (a sequence whose blocks are gone, closed or preempted, holds nothing anywhere).
        int[] held = new int[n];
        for (var it = homes.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Sequence, Integer> e = it.next();
            if (e.getKey().cache().blockCount() == 0) {
                it.remove();
            } else {
                held[e.getValue()]++;
            }
        }
        Arrays.fill(rank, -1);
        for (int i = 0; i < steps.size(); i++) {
            Sequence q = steps.get(i).sequence();
            Integer home = homes.get(q);
            if (home == null && q.length() > 0 && q.cache().blockCount() > 0 && blockOwners != null
                    && q.cache().blocks()[0] < blockOwners.length && blockOwners[q.cache().blocks()[0]] >= 0) {
                home = blockOwners[q.cache().blocks()[0]]; // a prefix cached by one of the ranks
                held[home]++;
            }
            if (home != null) {
                rank[i] = home;
                tokens[home] += steps.get(i).tokens().length;
            }
        }
        for (int i = 0; i < steps.size(); i++) {
            if (rank[i] < 0) {
                int least = 0;
                for (int r = 1; r < n; r++) {
                    boolean fewer = held[r] < held[least] || held[r] == held[least] && tokens[r] < tokens[least];
                    least = fewer ? r : least;
                }
                rank[i] = least;
                held[least]++;
                tokens[least] += steps.get(i).tokens().length;
            }
            homes.put(steps.get(i).sequence(), rank[i]);
        }
        int total = Arrays.stream(tokens).sum();
        int[] ids = new int[total];
        int[] previous = new int[total];
        int at = 0;
        for (int r = 0; r < n; r++) {
            for (int i = 0; i < steps.size(); i++) {
                if (rank[i] == r) {
                    Engine.Step s = steps.get(i);
                    for (int j = 0; j < s.tokens().length; j++, at++) {
                        ids[at] = s.tokens()[j];
                        previous[at] = s.sequence().previous(s.sequence().length() + j, s.tokens(), 0);
                    }
                }
            }
        }
        return new Split(rank, tokens, ids, previous);
    }

    /** Records, after a committed step, that each step's rank wrote the blocks holding the step's new positions. */
    void written(List<Engine.Step> steps, Split split, BlockPool pool) {
        if (blockOwners == null || blockOwners.length != pool.totalBlocks()) {
            blockOwners = new int[pool.totalBlocks()];
            Arrays.fill(blockOwners, -1);
        }
        for (int i = 0; i < steps.size(); i++) {
            Engine.Step s = steps.get(i);
            int[] blocks = s.sequence().cache().blocks();
            for (int b = (s.sequence().length() - s.tokens().length) / pool.blockSize(); b < blocks.length; b++) {
                blockOwners[blocks[b]] = split.rank()[i];
            }
        }
    }
}
