package dev.switchback.server.scheduler;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import dev.switchback.kernels.kv.BlockPool;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * KV blocks of prompts already computed, so a request starting with the same tokens skips them. Each whole block
 * of a prompt is keyed by a chain hash of every token up to its end, hash(previous key, block tokens); the value
 * holds the block id, with a reference of its own in the pool, which eviction or removal gives back.
 *
 * <p>A hash can collide, so a hit is checked: the entry's tokens must equal the block's, and its parent must be the
 * very entry matched for the previous block. Identity of parents makes the whole prefix checked, not just the
 * last block; an entry whose parent was evicted can no longer match and ages out.
 *
 * <p>Only the scheduler thread may call it: the block pool is not thread-safe, so Caffeine runs its maintenance and
 * removal listener on the calling thread ({@code executor(Runnable::run)}) instead of the common pool.
 */
final class PrefixCache {
    private final BlockPool pool;
    private final int blockSize;
    private final Cache<Long, Entry> entries; // null when turned off

    /** A cached block: the tokens it holds, the entry of the block before it (null for the first), the pool block. */
    record Entry(Entry parent, int[] tokens, int block) {}

    /** The cached start of a token sequence: {@code tokens.length / blockSize} whole blocks. */
    record Match(int[] tokens, int[] blocks) {
        boolean isEmpty() {
            return blocks.length == 0;
        }
    }

    PrefixCache(BlockPool pool, long budgetBytes) {
        this.pool = pool;
        this.blockSize = pool.blockSize();
        long blockBytes = pool.blockBytes();
        if (budgetBytes < blockBytes) {
            this.entries = null;
            return;
        }
        int weight = (int) Math.min(blockBytes, Integer.MAX_VALUE);
        this.entries = Caffeine.newBuilder()
                .maximumWeight(budgetBytes)
                .weigher((Long key, Entry e) -> weight)
                .executor(Runnable::run)
                .removalListener((Long key, Entry e, RemovalCause cause) -> pool.release(e.block()))
                .build();
    }

    boolean enabled() {
        return entries != null;
    }

    /**
     * The longest cached prefix of {@code tokens[0, length)} in whole blocks, always leaving the last token out:
     * its logits are what the request needs next, and only computing it gives them.
     */
    Match match(int[] tokens, int length) {
        if (entries == null) {
            return new Match(new int[0], new int[0]);
        }
        int usable = (length - 1) / blockSize;
        List<Integer> blocks = new ArrayList<>();
        Entry parent = null;
        long key = 0;
        for (int b = 0; b < usable; b++) {
            key = chain(key, tokens, b * blockSize, blockSize);
            Entry e = entries.getIfPresent(key);
            if (!matches(e, parent, tokens, b * blockSize)) {
                break;
            }
            blocks.add(e.block());
            parent = e;
        }
        return new Match(Arrays.copyOf(tokens, blocks.size() * blockSize),
                blocks.stream().mapToInt(Integer::intValue).toArray());
    }

    /**
     * Caches the whole blocks of {@code tokens[0, length)}, whose keys and values a sequence holds in
     * {@code blocks}; blocks already cached (by an earlier identical prompt) are kept as they are.
     */
    void insert(int[] tokens, int length, int[] blocks) {
        if (entries == null) {
            return;
        }
        int whole = Math.min(length / blockSize, blocks.length);
        Entry parent = null;
        long key = 0;
        for (int b = 0; b < whole; b++) {
            key = chain(key, tokens, b * blockSize, blockSize);
            Entry existing = entries.getIfPresent(key);
            if (matches(existing, parent, tokens, b * blockSize)) {
                parent = existing;
                continue;
            }
            // A collision or an orphan (its parent evicted): ours is the live chain. Removal releases its block.
            if (existing != null) {
                entries.invalidate(key);
            }
            pool.retain(blocks[b]);
            Entry entry = new Entry(parent, Arrays.copyOfRange(tokens, b * blockSize, (b + 1) * blockSize), blocks[b]);
            entries.put(key, entry);
            parent = entry;
        }
    }

    /**
     * Evicts cached blocks that nothing else holds, coldest first, until the pool has {@code freeBlocks} free
     * blocks or no such entry is left; entries whose block a running sequence shares free nothing and stay.
     *
     * @return whether the pool now has that many free blocks
     */
    boolean freeUntil(int freeBlocks) {
        if (pool.freeBlocks() >= freeBlocks) {
            return true;
        }
        if (entries == null) {
            return false;
        }
        Map<Long, Entry> coldest = entries.policy().eviction().orElseThrow().coldest(Integer.MAX_VALUE);
        for (Map.Entry<Long, Entry> e : coldest.entrySet()) {
            if (pool.references(e.getValue().block()) == 1) {
                entries.invalidate(e.getKey());
                if (pool.freeBlocks() >= freeBlocks) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Blocks the cache holds a reference to. */
    int blocks() {
        return entries == null ? 0 : (int) entries.estimatedSize();
    }

    /** Gives every block back. */
    void clear() {
        if (entries != null) {
            entries.invalidateAll();
            entries.cleanUp();
        }
    }

    private boolean matches(Entry e, Entry parent, int[] tokens, int from) {
        return e != null && e.parent() == parent && Arrays.equals(e.tokens(), 0, blockSize, tokens, from, from + blockSize);
    }

    /** The key of a block: a 64-bit mix of the previous block's key and this block's tokens. */
    static long chain(long previous, int[] tokens, int from, int count) {
        long h = previous ^ 0x9E3779B97F4A7C15L;
        for (int i = from; i < from + count; i++) {
            h = Long.rotateLeft(h ^ (tokens[i] * 0xC2B2AE3D27D4EB4FL), 31) * 0x165667B19E3779F9L;
        }
        return fmix(h ^ count);
    }

    private static long fmix(long h) {
        h ^= h >>> 33;
        h *= 0xFF51AFD7ED558CCDL;
        h ^= h >>> 33;
        h *= 0xC4CEB9FE1A85EC53L;
        return h ^ (h >>> 33);
    }
}
