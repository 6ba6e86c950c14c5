package dev.switchback.kernels.kv;

import java.util.Arrays;

/**
 * A fixed pool of KV-cache blocks. A block holds the keys and values of {@code blockSize} consecutive positions
 * of one sequence for every cache slot — a slot per (Ladder pass, layer), since each pass of a Ladder attends
 * over its own keys. Blocks are reference counted so sequences sharing a prompt prefix can share them.
 * Not thread-safe: one scheduler thread owns allocation.
 *
 * <p>Values are laid out {@code [slot][position][dim]}, keys {@code [slot][dim][position]}: a query's scores over
 * a block's positions are then vector multiply-adds over contiguous positions, with no horizontal sum per
 * position, and the weighted sum of values reads whole rows. Blocks hold F32 or BF16 elements ({@link KvFormat});
 * a pool has one format.
 */
public final class BlockPool {
    private final int blocks;
    private final int blockSize;
    private final int slots;
    private final int dim;
    private final boolean hostStorage;
    private final KvFormat format;
    private final float[][] keys;
    private final float[][] values;
    private final short[][] keys16;
    private final short[][] values16;
    private final int[] refs;
    private final int[] free;
    private int freeCount;

    /**
     * @param blocks blocks in the pool
     * @param blockSize positions per block
     * @param slots cache slots per position (passes × layers)
     * @param dim key (and value) width per slot
     */
    public BlockPool(int blocks, int blockSize, int slots, int dim) {
        this(blocks, blockSize, slots, dim, true, KvFormat.F32);
    }

    /** An F32 or BF16 pool held in this process. */
    public BlockPool(int blocks, int blockSize, int slots, int dim, KvFormat format) {
        this(blocks, blockSize, slots, dim, true, format);
    }

    /**
     * @param hostStorage false when the keys and values live elsewhere (a GPU's memory, indexed by the same block
     *     ids): the pool then only hands out, counts and shares block ids
     */
    public BlockPool(int blocks, int blockSize, int slots, int dim, boolean hostStorage) {
        this(blocks, blockSize, slots, dim, hostStorage, KvFormat.F32);
    }

    /**
     * @param hostStorage false when the keys and values live elsewhere (see above)
     * @param format how they are stored, here or there: {@link #blockBytes()} (which the prefix cache weighs) follows it
     */
    public BlockPool(int blocks, int blockSize, int slots, int dim, boolean hostStorage, KvFormat format) {
        positive("blocks", blocks);
        positive("blockSize", blockSize);
        positive("slots", slots);
        positive("dim", dim);
        if ((long) slots * blockSize * dim > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("blockSize " + blockSize + " × slots " + slots + " × dim " + dim
                    + " does not fit one array; use smaller blocks");
        }
        this.blocks = blocks;
        this.blockSize = blockSize;
        this.slots = slots;
        this.dim = dim;
        this.hostStorage = hostStorage;
        this.format = java.util.Objects.requireNonNull(format, "format");
        boolean f32 = format == KvFormat.F32;
        this.keys = f32 ? new float[blocks][] : null;
        this.values = f32 ? new float[blocks][] : null;
        this.keys16 = f32 ? null : new short[blocks][];
        this.values16 = f32 ? null : new short[blocks][];
        this.refs = new int[blocks];
        this.free = new int[blocks];
        for (int i = 0; i < blocks; i++) {
            free[i] = blocks - 1 - i;
        }
        this.freeCount = blocks;
    }

    /** Bytes one F32 block takes (keys and values). */
    public static long blockBytes(int blockSize, int slots, int dim) {
        return blockBytes(blockSize, slots, dim, KvFormat.F32);
    }

    /** Bytes one block of {@code format} takes (keys and values). */
    public static long blockBytes(int blockSize, int slots, int dim, KvFormat format) {
        return 2L * format.bytesPerElement() * blockSize * slots * dim;
    }

    /** Bytes one of this pool's blocks takes. */
    public long blockBytes() {
        return blockBytes(blockSize, slots, dim, format);
    }

    public KvFormat format() {
        return format;
    }

    private static void positive(String field, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException(field + " must be > 0, got " + v);
        }
    }

    /** A free block with one reference, or −1 when none is left. Memory is allocated on a block's first use. */
    public int allocate() {
        if (freeCount == 0) {
            return -1;
        }
        int b = free[--freeCount];
        refs[b] = 1;
        if (hostStorage && format == KvFormat.F32 && keys[b] == null) {
            keys[b] = new float[slots * blockSize * dim];
            values[b] = new float[slots * blockSize * dim];
        } else if (hostStorage && format == KvFormat.BF16 && keys16[b] == null) {
            keys16[b] = new short[slots * blockSize * dim];
            values16[b] = new short[slots * blockSize * dim];
        }
        return b;
    }

    /** Adds a reference to a block in use (a second sequence sharing it). */
    public void retain(int block) {
        if (refs[block] <= 0) {
            throw new IllegalStateException("block " + block + " is not in use");
        }
        refs[block]++;
    }

    /** Drops a reference; the block returns to the pool with its last one. */
    public void release(int block) {
        if (refs[block] <= 0) {
            throw new IllegalStateException("block " + block + " released more often than retained");
        }
        if (--refs[block] == 0) {
            free[freeCount++] = block;
        }
    }

    public int references(int block) {
        return refs[block];
    }

    public int freeBlocks() {
        return freeCount;
    }

    public int totalBlocks() {
        return blocks;
    }

    public int blockSize() {
        return blockSize;
    }

    public int slots() {
        return slots;
    }

    public int dim() {
        return dim;
    }

    /** An F32 block's keys. */
    float[] keys(int block) {
        return keys[block];
    }

    /** An F32 block's values. */
    float[] values(int block) {
        return values[block];
    }

    /** A BF16 block's keys (the bits of each element). */
    short[] keys16(int block) {
        return keys16[block];
    }

    /** A BF16 block's values. */
    short[] values16(int block) {
        return values16[block];
    }

    /** Index of (slot, position within block) in a block's value array, the start of a row of {@code dim} values. */
    int offset(int slot, int posInBlock) {
        return (slot * blockSize + posInBlock) * dim;
    }

    /**
     * Index of (slot, key column, position 0) in a block's key array; the column's {@code blockSize} positions
     * follow contiguously, and column c + 1 starts {@code blockSize} further on.
     */
    int keyOffset(int slot, int column) {
        return (slot * dim + column) * blockSize;
    }

    @Override
    public String toString() {
        return "BlockPool[" + (blocks - freeCount) + "/" + blocks + " used, " + Arrays.toString(new int[] {blockSize, slots, dim})
                + " " + format + "]";
    }
}
