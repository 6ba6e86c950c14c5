package dev.switchback.kernels.engine;

import dev.switchback.kernels.kv.BlockPool;
import dev.switchback.kernels.kv.KvCacheFullException;
import dev.switchback.kernels.kv.SequenceCache;
import dev.switchback.store.model.ModelConfig;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The sequences of one {@link StepEngine} and their KV blocks: creating them (empty or on a cached prefix), checking
 * and reserving blocks before a forward step, and recording the step's tokens after it. Whatever computes the step,
 * this bookkeeping is the same.
 */
public final class KvSequences {
    private final BlockPool pool;
    private final ModelConfig config;

    public KvSequences(BlockPool pool, ModelConfig config) {
        this.pool = pool;
        this.config = config;
    }

    /** A pool of {@code options.kvBlocks()} blocks, or enough for {@code options.maxSequences()} full contexts. */
    public static BlockPool pool(ModelConfig config, Engine.Options options, int slots) {
        int blocksPerSequence = (config.contextLength() + options.kvBlockSize() - 1) / options.kvBlockSize();
        int blocks = options.kvBlocks() > 0 ? options.kvBlocks() : blocksPerSequence * options.maxSequences();
        return new BlockPool(blocks, options.kvBlockSize(), slots, config.dModel(), options.kvFormat());
    }

    public BlockPool pool() {
        return pool;
    }

    /** A new, empty sequence with its own KV cache. */
    public Sequence newSequence() {
        return new Sequence(new SequenceCache(pool));
    }

    /**
     * A sequence that starts with {@code prefix} already cached in {@code blocks} (each gets a reference), as the
     * prefix cache hands them out. Only whole blocks can be shared: the new sequence writes its next position
     * into a fresh block, never into one another sequence still reads.
     */
    public Sequence newSequence(int[] prefix, int[] blocks) {
        if (prefix.length % pool.blockSize() != 0 || prefix.length / pool.blockSize() != blocks.length) {
            throw new IllegalArgumentException("a shared prefix must fill whole blocks: " + prefix.length + " tokens, "
                    + blocks.length + " blocks of " + pool.blockSize());
        }
        if (prefix.length > config.contextLength()) {
            throw new ContextLengthException("prefix of " + prefix.length + " tokens exceeds the context of " + config.contextLength());
        }
        Sequence s = newSequence();
        s.adopt(prefix, blocks);
        return s;
    }

    /**
     * Checks a forward call's steps (each sequence once, within the context, token ids in the vocabulary) and
     * reserves their KV blocks, all or none.
     *
     * @throws ContextLengthException when a sequence would pass the context length
     * @throws KvCacheFullException when the pool has too few free blocks
     */
    public void begin(List<Engine.Step> steps) {
        Set<Sequence> seen = new HashSet<>();
        for (Engine.Step s : steps) {
            if (!seen.add(s.sequence())) {
                throw new IllegalArgumentException("a sequence appears more than once in one forward call;"
                        + " give it one step with all its new tokens");
            }
            int end = s.sequence().length() + s.tokens().length;
            if (end > config.contextLength()) {
                throw new ContextLengthException("sequence of " + s.sequence().length() + " + " + s.tokens().length
                        + " tokens exceeds the model's context length of " + config.contextLength());
            }
            for (int id : s.tokens()) {
                if (id < 0 || id >= config.vocabSize()) {
                    throw new IllegalArgumentException("token id " + id + " is outside the vocabulary [0, " + config.vocabSize() + ")");
                }
            }
        }
        int need = 0;
        for (Engine.Step s : steps) {
            SequenceCache c = s.sequence().cache();
            // A sequence holding spare blocks needs none, but its spares are not free for the others.
            need += Math.max(0, c.blocksFor(s.sequence().length() + s.tokens().length) - c.blockCount());
        }
        if (need > pool.freeBlocks()) {
            throw new KvCacheFullException("KV cache full: this batch needs " + need
                    + " more block(s), " + pool.freeBlocks() + " of " + pool.totalBlocks() + " free");
        }
        for (Engine.Step s : steps) {
            s.sequence().cache().reserve(s.sequence().length() + s.tokens().length);
        }
    }

    /** Records the steps' tokens as cached, once their keys and values are written. */
    public void commit(List<Engine.Step> steps) {
        for (Engine.Step s : steps) {
            s.sequence().append(s.tokens());
        }
    }
}
