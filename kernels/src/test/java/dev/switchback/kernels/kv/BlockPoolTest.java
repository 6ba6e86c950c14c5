package dev.switchback.kernels.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class BlockPoolTest {
    @Test
    void allocatesDistinctBlocksUntilExhaustedThenMinusOne() {
        BlockPool pool = new BlockPool(5, 4, 3, 8);
        Set<Integer> ids = new HashSet<>();
        for (int i = 0; i < 5; i++) {
            int b = pool.allocate();
            assertTrue(b >= 0 && b < 5, "block id " + b);
            assertTrue(ids.add(b), "block " + b + " handed out twice");
            assertEquals(1, pool.references(b));
            assertEquals(4 - i, pool.freeBlocks());
            assertEquals(3 * 4 * 8, pool.keys(b).length, "slots × blockSize × dim keys");
            assertEquals(3 * 4 * 8, pool.values(b).length);
        }
        assertEquals(-1, pool.allocate(), "exhausted");
        assertEquals(-1, pool.allocate(), "still exhausted");
        assertEquals(0, pool.freeBlocks());
    }

    @Test
    void retainAndReleaseCountReferences() {
        BlockPool pool = new BlockPool(2, 4, 1, 8);
        int b = pool.allocate();
        pool.retain(b);
        pool.retain(b);
        assertEquals(3, pool.references(b));
        pool.release(b);
        pool.release(b);
        assertEquals(1, pool.references(b));
        assertEquals(1, pool.freeBlocks(), "a block with references left stays in use");
        pool.release(b);
        assertEquals(0, pool.references(b));
        assertEquals(2, pool.freeBlocks(), "its last reference returns the block");
        IllegalStateException twice = assertThrows(IllegalStateException.class, () -> pool.release(b));
        assertTrue(twice.getMessage().contains("block " + b), twice.getMessage());
        assertEquals(2, pool.freeBlocks(), "a bad release does not corrupt the free list");
        assertThrows(IllegalStateException.class, () -> pool.retain(b), "retaining a free block");
    }

    @Test
    void releasedBlocksAreReusedWithTheirMemory() {
        BlockPool pool = new BlockPool(3, 2, 2, 4);
        int[] first = {pool.allocate(), pool.allocate(), pool.allocate()};
        float[][] keys = new float[3][];
        for (int i = 0; i < 3; i++) {
            keys[i] = pool.keys(first[i]);
        }
        pool.release(first[1]);
        int again = pool.allocate();
        assertEquals(first[1], again, "the only free block is handed out again");
        assertSame(keys[1], pool.keys(again), "memory is kept, not reallocated");
        assertEquals(1, pool.references(again));
        for (int b : first) {
            pool.release(b);
        }
        Set<Integer> reused = new HashSet<>();
        for (int i = 0; i < 3; i++) {
            int b = pool.allocate();
            reused.add(b);
            assertNotNull(pool.keys(b));
        }
        assertEquals(Set.of(first[0], first[1], first[2]), reused);
        assertEquals(-1, pool.allocate());
    }

    @Test
    void offsetsTileABlockWithoutOverlap() {
        BlockPool pool = new BlockPool(1, 3, 4, 5);
        Set<Integer> starts = new HashSet<>();
        for (int slot = 0; slot < 4; slot++) {
            for (int p = 0; p < 3; p++) {
                int at = pool.offset(slot, p);
                assertEquals(0, at % 5);
                assertTrue(at >= 0 && at + 5 <= 3 * 4 * 5);
                assertTrue(starts.add(at), "slot " + slot + " position " + p + " overlaps");
            }
        }
    }

    @Test
    void sizesAreValidatedNamingTheField() {
        for (String field : new String[] {"blocks", "blockSize", "slots", "dim"}) {
            int[] args = {2, 2, 2, 2};
            args[java.util.List.of("blocks", "blockSize", "slots", "dim").indexOf(field)] = 0;
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new BlockPool(args[0], args[1], args[2], args[3]));
            assertTrue(e.getMessage().startsWith(field + " "), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> new BlockPool(1, 1 << 16, 1 << 10, 1 << 10), "too big for one array");
    }

    /** A pool of ids for a GPU's BF16 cache: weighs its blocks at BF16 size and holds no keys or values itself. */
    @Test
    void aPoolOfIdsForAnotherMemoryWeighsItsFormat() {
        BlockPool gpu = new BlockPool(3, 4, 2, 8, false, KvFormat.BF16);
        assertEquals(BlockPool.blockBytes(4, 2, 8) / 2, gpu.blockBytes());
        int b = gpu.allocate();
        assertNull(gpu.keys16(b), "no host copy of a block whose keys live on the GPU");
        assertEquals(KvFormat.BF16, gpu.format());
    }

    @Test
    void describesItself() {
        BlockPool pool = new BlockPool(4, 16, 2, 8);
        assertEquals(16, pool.blockSize());
        assertEquals(2, pool.slots());
        assertEquals(8, pool.dim());
        assertEquals(4, pool.totalBlocks());
        assertEquals(2L * 4 * 16 * 2 * 8, BlockPool.blockBytes(16, 2, 8), "keys and values, 4 bytes each");
        pool.allocate();
        assertTrue(pool.toString().contains("1/4"), pool.toString());
    }
}
