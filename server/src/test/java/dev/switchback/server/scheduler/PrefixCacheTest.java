package dev.switchback.server.scheduler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.kernels.kv.BlockPool;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The prefix cache's bookkeeping: what matches, which references it holds, and what eviction gives back. */
class PrefixCacheTest {
    static final int BLOCK = 4;
    final BlockPool pool = new BlockPool(16, BLOCK, 1, 2);
    final long blockBytes = BlockPool.blockBytes(BLOCK, 1, 2);

    int[] allocate(int n) {
        int[] blocks = new int[n];
        for (int i = 0; i < n; i++) {
            blocks[i] = pool.allocate();
        }
        return blocks;
    }

    static int[] tokens(int... t) {
        return t;
    }

    @Test
    void caffeineCachesWholeBlocksAndMatchesTheLongestPrefixLeavingTheLastToken() {
        PrefixCache cache = new PrefixCache(pool, 1 << 20);
        int[] prompt = tokens(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
        int[] owner = allocate(3);
        cache.insert(prompt, prompt.length, owner);
        assertEquals(2, cache.blocks(), "the third block is partly filled and never shared");
        assertEquals(2, pool.references(owner[0]));
        assertEquals(2, pool.references(owner[1]));
        assertEquals(1, pool.references(owner[2]));

        PrefixCache.Match full = cache.match(prompt, prompt.length);
        assertArrayEquals(new int[] {owner[0], owner[1]}, full.blocks());
        assertArrayEquals(Arrays.copyOf(prompt, 8), full.tokens());
        assertEquals(1, cache.match(prompt, 8).blocks().length, "8 tokens: the second block holds the last one");
        assertEquals(1, cache.match(tokens(1, 2, 3, 4, 5, 6, 7, 0, 9), 9).blocks().length, "a different second block");
        assertEquals(0, cache.match(tokens(0, 2, 3, 4, 5, 6, 7, 8, 9), 9).blocks().length, "a different first block");
        assertEquals(0, cache.match(tokens(1, 2, 3), 3).blocks().length);

        cache.insert(prompt, prompt.length, allocate(3));
        assertEquals(2, cache.blocks(), "an identical prompt adds nothing");
        cache.clear();
        assertEquals(1, pool.references(owner[0]));
        assertEquals(0, cache.blocks());
    }

    @Test
    void freeingEvictsOnlyBlocksNothingElseHolds() {
        PrefixCache cache = new PrefixCache(pool, 1 << 20);
        int[] first = allocate(2);
        int[] second = allocate(2);
        cache.insert(tokens(1, 1, 1, 1, 2, 2, 2, 2), 8, first);
        cache.insert(tokens(3, 3, 3, 3, 4, 4, 4, 4), 8, second);
        for (int b : first) {
            pool.release(b); // the first owner finished: only the cache holds its blocks
        }
        assertEquals(12, pool.freeBlocks());
        assertFalse(cache.freeUntil(16), "the second owner's shared blocks free nothing");
        assertEquals(14, pool.freeBlocks());
        assertEquals(2, cache.blocks(), "the shared entries stay");
        assertTrue(cache.freeUntil(14));
        assertEquals(0, cache.match(tokens(1, 1, 1, 1, 2, 2, 2, 2, 9), 9).blocks().length);
        assertEquals(2, cache.match(tokens(3, 3, 3, 3, 4, 4, 4, 4, 9), 9).blocks().length);
    }

    @Test
    void aChildWhoseParentWasEvictedNeverMatchesAndIsReplaced() {
        PrefixCache cache = new PrefixCache(pool, 1 << 20);
        int[] prompt = tokens(1, 2, 3, 4, 5, 6, 7, 8, 9);
        int[] owner = allocate(3);
        cache.insert(prompt, prompt.length, owner);
        pool.release(owner[0]); // only the cache holds the first block; the owner still shares the second
        assertTrue(cache.freeUntil(pool.freeBlocks() + 1));
        assertEquals(1, cache.blocks(), "the orphaned second block is still cached");
        assertEquals(0, cache.match(prompt, prompt.length).blocks().length, "without its parent it cannot match");

        int[] again = allocate(3);
        cache.insert(prompt, prompt.length, again);
        assertEquals(2, cache.blocks());
        assertEquals(1, pool.references(owner[1]), "the orphan was dropped and its reference given back");
        assertArrayEquals(new int[] {again[0], again[1]}, cache.match(prompt, prompt.length).blocks());
    }

    @Test
    void theByteBudgetBoundsTheBlocksHeldAndEvictionReleasesThem() {
        PrefixCache cache = new PrefixCache(pool, 2 * blockBytes);
        int[] owner = allocate(4);
        int[] prompt = tokens(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
        cache.insert(prompt, prompt.length, owner);
        assertTrue(cache.blocks() <= 2, "at most two blocks fit: " + cache.blocks());
        int references = 0;
        for (int b : owner) {
            references += pool.references(b);
        }
        assertEquals(owner.length + cache.blocks(), references, "every evicted entry gave its reference back");
    }

    @Test
    void aBudgetBelowOneBlockTurnsTheCacheOff() {
        PrefixCache cache = new PrefixCache(pool, blockBytes - 1);
        assertFalse(cache.enabled());
        int[] owner = allocate(2);
        cache.insert(tokens(1, 2, 3, 4, 5, 6, 7, 8), 8, owner);
        assertEquals(1, pool.references(owner[0]));
        assertEquals(0, cache.match(tokens(1, 2, 3, 4, 5, 6, 7, 8, 9), 9).blocks().length);
    }

    @Test
    void chainKeysDependOnEveryEarlierToken() {
        long a = PrefixCache.chain(PrefixCache.chain(0, tokens(1, 2), 0, 2), tokens(3, 4), 0, 2);
        long b = PrefixCache.chain(PrefixCache.chain(0, tokens(9, 2), 0, 2), tokens(3, 4), 0, 2);
        long c = PrefixCache.chain(PrefixCache.chain(0, tokens(1, 2), 0, 2), tokens(4, 3), 0, 2);
        assertTrue(a != b && a != c && b != c);
    }
}
