package dev.switchback.kernels.kv;

import dev.switchback.kernels.cpu.VectorKernels;
import dev.switchback.kernels.tensor.Matrix;
import java.util.Arrays;

/**
 * One sequence's KV cache: its block table (logical block i → pool block) and how many positions are filled.
 * Position p lives in block {@code table[p / blockSize]} at row {@code p % blockSize}.
 */
public final class SequenceCache implements AutoCloseable {
    private final BlockPool pool;
    private int[] table = new int[4];
    private int blockCount;
    private int length;

    public SequenceCache(BlockPool pool) {
        this.pool = pool;
    }

    public BlockPool pool() {
        return pool;
    }

    /** Positions whose keys and values are stored. */
    public int length() {
        return length;
    }

    /** Blocks held. */
    public int blockCount() {
        return blockCount;
    }

    /** Pool block ids held, in position order. */
    public int[] blocks() {
        return Arrays.copyOf(table, blockCount);
    }

    /** Blocks needed to hold {@code positions} positions. */
    public int blocksFor(int positions) {
        return (positions + pool.blockSize() - 1) / pool.blockSize();
    }

    /**
     * Makes room for positions up to {@code positions}; allocates all needed blocks or none.
     *
     * @throws KvCacheFullException when the pool has too few free blocks
     */
    public void reserve(int positions) {
        int need = blocksFor(positions) - blockCount;
        if (need <= 0) {
            return;
        }
        if (need > pool.freeBlocks()) {
            throw new KvCacheFullException("KV cache full: a sequence needs " + need + " more block(s), "
                    + pool.freeBlocks() + " of " + pool.totalBlocks() + " free");
        }
        if (blockCount + need > table.length) {
            table = Arrays.copyOf(table, Math.max(table.length * 2, blockCount + need));
        }
        for (int i = 0; i < need; i++) {
            table[blockCount++] = pool.allocate();
        }
    }

    /**
     * Starts this (empty) sequence on blocks another sequence filled: {@code positions} positions in
     * {@code blocks}, each retained. Used by the prefix cache; a later write into a shared, partly filled
     * block would corrupt its other owners, so only full blocks should be shared.
     */
    public void adopt(int[] blocks, int positions) {
        if (blockCount != 0) {
            throw new IllegalStateException("adopt needs an empty sequence cache");
        }
        if (blocksFor(positions) != blocks.length) {
            throw new IllegalArgumentException(positions + " positions do not fill " + blocks.length + " blocks");
        }
        reserveTable(blocks.length);
        for (int b : blocks) {
            pool.retain(b);
            table[blockCount++] = b;
        }
        length = positions;
    }

    private void reserveTable(int n) {
        if (n > table.length) {
            table = Arrays.copyOf(table, n);
        }
    }

    /** Marks {@code positions} positions as stored (after the engine wrote them). */
    public void setLength(int positions) {
        if (positions > blockCount * pool.blockSize()) {
            throw new IllegalStateException(positions + " positions exceed the " + blockCount + " reserved block(s)");
        }
        length = positions;
    }

    /** Writes the key and value rows of {@code slot} at {@code position} (its block must be reserved). */
    public void write(int slot, int position, float[] key, int keyOff, float[] value, int valueOff) {
        write(slot, position, key, keyOff, value, valueOff, 0, pool.dim());
    }

    /**
     * Writes dimensions {@code from … to−1} only (one attention head's slice; {@code keyOff} and {@code valueOff}
     * still point at dimension 0), so threads can write a position's heads side by side.
     */
    public void write(int slot, int position, float[] key, int keyOff, float[] value, int valueOff, int from, int to) {
        // Table entries past blockCount are stale (or 0): writing through them would land in another sequence's block.
        if (position < 0 || position >= blockCount * pool.blockSize()) {
            throw new IllegalStateException("position " + position + " is outside the " + blockCount + " reserved block(s)");
        }
        if (from < 0 || to > pool.dim() || from > to) {
            throw new IllegalArgumentException("dimensions [" + from + ", " + to + ") are outside [0, " + pool.dim() + ")");
        }
        int bs = pool.blockSize();
        int block = table[position / bs];
        int k = pool.keyOffset(slot, 0) + position % bs + from * bs;
        int v = pool.offset(slot, position % bs);
        if (pool.format() == KvFormat.F32) {
            float[] keys = pool.keys(block);
            for (int c = from; c < to; c++, k += bs) {
                keys[k] = key[keyOff + c];
            }
            System.arraycopy(value, valueOff + from, pool.values(block), v + from, to - from);
        } else {
            short[] keys = pool.keys16(block);
            short[] values = pool.values16(block);
            for (int c = from; c < to; c++, k += bs) {
                keys[k] = Matrix.Bf16.round(key[keyOff + c]);
                values[v + c] = Matrix.Bf16.round(value[valueOff + c]);
            }
        }
    }

    /**
     * Copies the keys and values of {@code slot} at stored positions [{@code from}, {@code to}), split into
     * {@code heads} heads, into arrays laid out {@code [heads][columns][headSize]} with position p in column p: the
     * {@code [heads, positions, head_dim]} layout of one sequence in an ONNX-style {@code past_key_values} tensor.
     */
    public void gatherByHead(int slot, int heads, int from, int to, float[] keys, float[] values, int columns) {
        int headSize = pool.dim() / heads;
        if (headSize * heads != pool.dim() || from < 0 || to > length || to > columns) {
            throw new IllegalArgumentException("cannot lay positions [" + from + ", " + to + ") of " + length + " stored, width "
                    + pool.dim() + ", out as " + heads + " heads in " + columns + " columns");
        }
        int bs = pool.blockSize();
        for (int p = from; p < to; p++) {
            int block = table[p / bs];
            int at = pool.offset(slot, p % bs);
            int kAt = pool.keyOffset(slot, 0) + p % bs;
            boolean f32 = pool.format() == KvFormat.F32;
            for (int h = 0; h < heads; h++) {
                int dst = (h * columns + p) * headSize;
                for (int i = 0; i < headSize; i++) {
                    int kc = kAt + (h * headSize + i) * bs;
                    keys[dst + i] = f32 ? pool.keys(block)[kc] : Matrix.Bf16.widen(pool.keys16(block)[kc]);
                }
                if (f32) {
                    System.arraycopy(pool.values(block), at + h * headSize, values, dst, headSize);
                } else {
                    VectorKernels.widen(pool.values16(block), at + h * headSize, headSize, values, dst);
                }
            }
        }
    }

    /** Pool block holding logical block {@code i}. */
    int block(int i) {
        return table[i];
    }

    /** Returns every block to the pool; the sequence is empty afterwards. */
    @Override
    public void close() {
        for (int i = 0; i < blockCount; i++) {
            pool.release(table[i]);
        }
        blockCount = 0;
        length = 0;
    }
}
