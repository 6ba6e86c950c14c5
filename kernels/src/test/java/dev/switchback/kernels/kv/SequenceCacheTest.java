package dev.switchback.kernels.kv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.kernels.tensor.Matrix;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SequenceCacheTest {
    @Test
    void reserveAllocatesTheBlocksPositionsNeed() {
        BlockPool pool = new BlockPool(20, 4, 1, 2);
        try (SequenceCache c = new SequenceCache(pool)) {
            c.reserve(0);
            assertEquals(0, c.blockCount());
            c.reserve(1);
            assertEquals(1, c.blockCount());
            c.reserve(4);
            assertEquals(1, c.blockCount(), "4 positions fit one block of 4");
            c.reserve(5);
            assertEquals(2, c.blockCount());
            c.reserve(3);
            assertEquals(2, c.blockCount(), "reserving less keeps what is held");
            c.reserve(4 * 13);
            assertEquals(13, c.blockCount(), "the block table grows past its initial size");
            assertEquals(13, new HashSet<>(Arrays.stream(c.blocks()).boxed().toList()).size(), "distinct blocks");
            assertEquals(7, pool.freeBlocks());
            assertEquals(0, c.length(), "reserving stores nothing");
        }
        assertEquals(20, pool.freeBlocks(), "close returns every block");
    }

    @Test
    void gatherByHeadLaysPositionsOutHeadMajorAcrossBlocks() {
        // Blocks of 3 positions, 2 slots, rows of 4 = 2 heads of 2; 7 positions span 3 blocks.
        BlockPool pool = new BlockPool(8, 3, 2, 4);
        try (SequenceCache c = new SequenceCache(pool)) {
            c.reserve(7);
            for (int p = 0; p < 7; p++) {
                for (int slot = 0; slot < 2; slot++) {
                    float[] key = new float[4];
                    float[] value = new float[4];
                    for (int i = 0; i < 4; i++) {
                        key[i] = 1000 * slot + 10 * p + i;
                        value[i] = -key[i];
                    }
                    c.write(slot, p, key, 0, value, 0);
                }
            }
            c.setLength(7);
            int columns = 9;
            float[] keys = new float[2 * columns * 2];
            float[] values = new float[keys.length];
            c.gatherByHead(1, 2, 2, 7, keys, values, columns);
            for (int h = 0; h < 2; h++) {
                for (int col = 0; col < columns; col++) {
                    for (int i = 0; i < 2; i++) {
                        float expected = col >= 2 && col < 7 ? 1000 + 10 * col + 2 * h + i : 0;
                        assertEquals(expected, keys[(h * columns + col) * 2 + i], "head " + h + " column " + col);
                        assertEquals(-expected, values[(h * columns + col) * 2 + i], 0f);
                    }
                }
            }
            assertThrows(IllegalArgumentException.class, () -> c.gatherByHead(0, 2, 0, 8, keys, values, columns),
                    "only stored positions");
            assertThrows(IllegalArgumentException.class, () -> c.gatherByHead(0, 3, 0, 7, keys, values, columns),
                    "heads must divide the row");
        }
    }

    /**
     * Writing a position head by head (as the engine's threads do) stores exactly what one whole-row write stores, and
     * one head's slice touches no other head.
     */
    @ParameterizedTest
    @EnumSource(KvFormat.class)
    void headSlicesWrittenSeparatelyEqualOneRowWrite(KvFormat format) {
        BlockPool pool = new BlockPool(8, 3, 2, 6, format);
        java.util.Random r = new java.util.Random(9);
        try (SequenceCache whole = new SequenceCache(pool); SequenceCache sliced = new SequenceCache(pool)) {
            whole.reserve(5);
            sliced.reserve(5);
            for (int p = 0; p < 5; p++) {
                float[] key = new float[6 + 2];
                float[] value = new float[6 + 2];
                for (int i = 0; i < key.length; i++) {
                    key[i] = (float) r.nextGaussian();
                    value[i] = (float) r.nextGaussian();
                }
                whole.write(1, p, key, 2, value, 2);
                for (int h = 2; h >= 0; h--) { // heads of 2, in any order
                    sliced.write(1, p, key, 2, value, 2, 2 * h, 2 * h + 2);
                }
            }
            whole.setLength(5);
            sliced.setLength(5);
            float[] k1 = new float[3 * 5 * 2];
            float[] v1 = new float[k1.length];
            float[] k2 = new float[k1.length];
            float[] v2 = new float[k1.length];
            whole.gatherByHead(1, 3, 0, 5, k1, v1, 5);
            sliced.gatherByHead(1, 3, 0, 5, k2, v2, 5);
            assertArrayEquals(k1, k2);
            assertArrayEquals(v1, v2);
            // One head's slice leaves the other heads of that position alone.
            try (SequenceCache one = new SequenceCache(pool)) {
                one.reserve(1);
                float[] key = {1, 2, 3, 4, 5, 6};
                float[] value = {-1, -2, -3, -4, -5, -6};
                one.write(0, 0, key, 0, value, 0, 2, 4);
                one.setLength(1);
                float[] keys = new float[3 * 2];
                float[] values = new float[keys.length];
                one.gatherByHead(0, 3, 0, 1, keys, values, 1);
                assertArrayEquals(new float[] {0, 0, 3, 4, 0, 0}, keys);
                assertArrayEquals(new float[] {0, 0, -3, -4, 0, 0}, values);
            }
            float[] row = new float[6];
            assertThrows(IllegalArgumentException.class, () -> sliced.write(1, 0, row, 0, row, 0, 4, 7), "past the row");
            assertThrows(IllegalArgumentException.class, () -> sliced.write(1, 0, row, 0, row, 0, 3, 2), "empty backwards");
        }
    }

    /** A BF16 pool keeps each key and value rounded to the nearest BF16 and gives back exactly that, in half the bytes. */
    @Test
    void bf16BlocksHoldRoundedValuesInHalfTheBytes() {
        BlockPool pool = new BlockPool(8, 3, 2, 4, KvFormat.BF16);
        assertEquals(KvFormat.BF16, pool.format());
        assertEquals(BlockPool.blockBytes(3, 2, 4) / 2, pool.blockBytes());
        java.util.Random r = new java.util.Random(5);
        float[][] keys = new float[7][4];
        float[][] values = new float[7][4];
        try (SequenceCache c = new SequenceCache(pool)) {
            c.reserve(7);
            for (int p = 0; p < 7; p++) {
                for (int i = 0; i < 4; i++) {
                    keys[p][i] = (float) r.nextGaussian() * 100;
                    values[p][i] = (float) r.nextGaussian();
                }
                c.write(0, p, new float[4], 0, new float[4], 0);
                c.write(1, p, keys[p], 0, values[p], 0);
            }
            c.setLength(7);
            int columns = 7;
            float[] k = new float[2 * columns * 2];
            float[] v = new float[k.length];
            c.gatherByHead(1, 2, 0, 7, k, v, columns);
            for (int p = 0; p < 7; p++) {
                for (int h = 0; h < 2; h++) {
                    for (int i = 0; i < 2; i++) {
                        float key = keys[p][2 * h + i];
                        float value = values[p][2 * h + i];
                        int at = (h * columns + p) * 2 + i;
                        assertEquals(Matrix.Bf16.widen(Matrix.Bf16.round(key)), k[at], 0f, "key p=" + p);
                        assertEquals(Matrix.Bf16.widen(Matrix.Bf16.round(value)), v[at], 0f, "value p=" + p);
                        assertEquals(key, k[at], Math.abs(key) / 256, "within BF16's relative step");
                    }
                }
            }
        }
    }

    @Test
    void reserveIsAllOrNothing() {
        BlockPool pool = new BlockPool(5, 4, 1, 2);
        SequenceCache other = new SequenceCache(pool);
        other.reserve(8);
        SequenceCache c = new SequenceCache(pool);
        c.reserve(2);
        int[] held = c.blocks();
        KvCacheFullException e = assertThrows(KvCacheFullException.class, () -> c.reserve(4 * 5));
        assertTrue(e.getMessage().contains("4 more block") && e.getMessage().contains("2 of 5 free"), e.getMessage());
        assertEquals(2, pool.freeBlocks(), "no block taken by the failed reserve");
        assertArrayEquals(held, c.blocks(), "the sequence keeps what it had");
        c.reserve(12);
        assertEquals(3, c.blockCount(), "exactly the free blocks still fit");
        assertEquals(0, pool.freeBlocks());
        assertThrows(KvCacheFullException.class, () -> c.reserve(13));
        c.close();
        other.close();
        assertEquals(5, pool.freeBlocks());
    }

    @Test
    void adoptSharesBlocksByReference() {
        BlockPool pool = new BlockPool(6, 4, 1, 2);
        SequenceCache owner = new SequenceCache(pool);
        owner.reserve(8);
        owner.setLength(8);
        int[] prefix = owner.blocks();
        SequenceCache sharer = new SequenceCache(pool);
        sharer.adopt(prefix, 8);
        assertEquals(8, sharer.length());
        assertArrayEquals(prefix, sharer.blocks());
        for (int b : prefix) {
            assertEquals(2, pool.references(b));
        }
        assertEquals(4, pool.freeBlocks(), "sharing allocates nothing");
        sharer.reserve(9);
        assertEquals(3, sharer.blockCount(), "growth after the shared prefix takes a new block");
        assertEquals(1, pool.references(sharer.blocks()[2]));
        owner.close();
        for (int b : prefix) {
            assertEquals(1, pool.references(b), "the sharer still holds the prefix");
        }
        assertEquals(3, pool.freeBlocks());
        sharer.close();
        assertEquals(6, pool.freeBlocks());
        assertEquals(0, sharer.blockCount());
        assertEquals(0, sharer.length());
    }

    @Test
    void adoptChecksItsArguments() {
        BlockPool pool = new BlockPool(4, 4, 1, 2);
        SequenceCache owner = new SequenceCache(pool);
        owner.reserve(8);
        SequenceCache busy = new SequenceCache(pool);
        busy.reserve(1);
        assertThrows(IllegalStateException.class, () -> busy.adopt(owner.blocks(), 8), "adopt needs an empty cache");
        SequenceCache empty = new SequenceCache(pool);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> empty.adopt(owner.blocks(), 4));
        assertTrue(e.getMessage().contains("4 positions") && e.getMessage().contains("2 blocks"), e.getMessage());
        assertEquals(1, pool.references(owner.blocks()[0]), "a refused adopt retains nothing");
    }

    @Test
    void closeIsIdempotent() {
        BlockPool pool = new BlockPool(3, 2, 1, 2);
        SequenceCache c = new SequenceCache(pool);
        c.reserve(5);
        c.close();
        c.close();
        assertEquals(3, pool.freeBlocks());
        c.reserve(2);
        assertEquals(1, c.blockCount(), "a closed cache can start again");
    }

    @Test
    void lengthCannotPassTheReservedBlocks() {
        BlockPool pool = new BlockPool(3, 4, 1, 2);
        SequenceCache c = new SequenceCache(pool);
        c.reserve(5);
        c.setLength(8);
        assertEquals(8, c.length());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> c.setLength(9));
        assertTrue(e.getMessage().contains("9 positions") && e.getMessage().contains("2 reserved"), e.getMessage());
    }

    /** Position p goes to row p mod blockSize of the p / blockSize-th block the sequence holds, in every slot. */
    @Test
    void writeStoresAtTheBlockAndRowOfThePosition() {
        int bs = 3;
        int slots = 2;
        int dim = 4;
        BlockPool pool = new BlockPool(8, bs, slots, dim);
        SequenceCache a = new SequenceCache(pool);
        SequenceCache b = new SequenceCache(pool);
        for (int p = 1; p <= 10; p++) {
            a.reserve(p);
            b.reserve(p); // interleaved, so neither sequence's blocks are consecutive in the pool
        }
        assertTrue(Math.abs(a.blocks()[1] - a.blocks()[0]) != 1 || Math.abs(a.blocks()[2] - a.blocks()[1]) != 1);
        for (int p = 0; p < 10; p++) {
            for (int s = 0; s < slots; s++) {
                a.write(s, p, row(p, s, 0), 0, row(p, s, 0.5f), 0);
                float[] padded = new float[dim + 3];
                System.arraycopy(row(p, s, 100), 0, padded, 3, dim);
                b.write(s, p, padded, 3, padded, 3);
            }
        }
        for (int p = 0; p < 10; p++) {
            for (int s = 0; s < slots; s++) {
                int at = pool.offset(s, p % bs);
                int blockA = a.blocks()[p / bs];
                assertArrayEquals(row(p, s, 0), keyRow(pool, blockA, s, p % bs), "a's key p=" + p + " slot " + s);
                assertArrayEquals(row(p, s, 0.5f), Arrays.copyOfRange(pool.values(blockA), at, at + dim), "a's value");
                int blockB = b.blocks()[p / bs];
                assertArrayEquals(row(p, s, 100), keyRow(pool, blockB, s, p % bs), "b's key p=" + p);
            }
        }
        Set<Integer> all = new HashSet<>();
        Arrays.stream(a.blocks()).forEach(all::add);
        Arrays.stream(b.blocks()).forEach(all::add);
        assertEquals(8, all.size(), "the two sequences share no block");
    }

    /**
     * A write past the blocks a sequence holds has no block of its own to go to; it must fail rather than land in
     * whatever pool block the unused (or released) table entry still names — another sequence's.
     */
    @Test
    void writeOutsideTheReservedBlocksIsRefusedAndCorruptsNoOtherSequence() {
        BlockPool pool = new BlockPool(4, 2, 1, 4);
        SequenceCache owner = new SequenceCache(pool);
        owner.reserve(2);
        owner.write(0, 0, row(0, 0, 0), 0, row(0, 0, 0), 0);
        int ownerBlock = owner.blocks()[0];
        float[] ownerKeys = pool.keys(ownerBlock).clone();

        SequenceCache fresh = new SequenceCache(pool);
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> fresh.write(0, 0, row(9, 0, 0), 0, row(9, 0, 0), 0), "nothing reserved");
        assertTrue(e.getMessage().contains("position 0") && e.getMessage().contains("0 reserved"), e.getMessage());
        SequenceCache closed = new SequenceCache(pool);
        closed.reserve(2);
        closed.close();
        SequenceCache reuser = new SequenceCache(pool);
        reuser.reserve(2); // takes the block closed just released
        reuser.write(0, 1, row(1, 0, 0), 0, row(1, 0, 0), 0);
        assertThrows(IllegalStateException.class, () -> closed.write(0, 1, row(8, 0, 0), 0, row(8, 0, 0), 0), "after close");
        SequenceCache one = new SequenceCache(pool);
        one.reserve(1);
        assertThrows(IllegalStateException.class, () -> one.write(0, 2, row(7, 0, 0), 0, row(7, 0, 0), 0), "past the last block");

        assertArrayEquals(ownerKeys, pool.keys(ownerBlock), "the owner's keys are intact");
        assertArrayEquals(row(1, 0, 0), keyRow(pool, reuser.blocks()[0], 0, 1), "the reuser's too");
    }

    /** The key of (slot, position within the block) as a row, read from the pool's column-wise key layout. */
    private static float[] keyRow(BlockPool pool, int block, int slot, int posInBlock) {
        float[] out = new float[pool.dim()];
        for (int c = 0; c < out.length; c++) {
            out[c] = pool.keys(block)[pool.keyOffset(slot, c) + posInBlock];
        }
        return out;
    }

    private static float[] row(int position, int slot, float salt) {
        float[] out = new float[4];
        for (int i = 0; i < out.length; i++) {
            out[i] = 1000 * slot + 10 * position + i + salt;
        }
        return out;
    }
}
