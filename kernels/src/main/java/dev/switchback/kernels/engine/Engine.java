package dev.switchback.kernels.engine;

import dev.switchback.kernels.cpu.Parallel;
import dev.switchback.kernels.kv.BlockPool;
import dev.switchback.kernels.kv.SequenceCache;
import dev.switchback.kernels.routing.ExpertStats;
import dev.switchback.kernels.routing.TokenHashRouter;
import dev.switchback.kernels.routing.TopKRouter;
import dev.switchback.kernels.tensor.Matrix;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.ModelConfig;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Runs a model of any architecture over batches of sequences: each call takes new tokens for some sequences
 * (a prompt chunk or one decoded token each), extends their KV caches and returns the next-token logits of each.
 * Mixing prefill and decode in one call is what continuous batching needs. One thread calls {@link #forward}
 * at a time; the kernels inside it use the whole pool.
 */
public final class Engine {
    private final ModelWeights weights;
    private final ModelConfig config;
    private final Context ctx;
    private final LadderStack stack;
    private final BlockPool pool;

    /** What {@link Block}s need besides their weights. */
    record Context(Backend backend, Parallel parallel, ExpertPlacement placement, ExpertStats stats) {}

    /** New tokens for one sequence. */
    public record Step(Sequence sequence, int[] tokens) {
        public Step {
            if (tokens.length == 0) {
                throw new IllegalArgumentException("a step needs at least one token");
            }
        }
    }

    /**
     * Engine settings.
     *
     * @param format how to hold matrices (null: as stored)
     * @param kvBlockSize positions per KV block
     * @param kvBlocks blocks in the KV pool (0: enough for {@code maxSequences} full contexts)
     * @param maxSequences sequences the default pool is sized for
     */
    public record Options(WeightFormat format, int kvBlockSize, int kvBlocks, int maxSequences) {
        public Options {
            if (kvBlockSize < 1) {
                throw new IllegalArgumentException("kvBlockSize must be >= 1, got " + kvBlockSize);
            }
            if (kvBlocks < 0) {
                throw new IllegalArgumentException("kvBlocks must be >= 0, got " + kvBlocks);
            }
            if (maxSequences < 1) {
                throw new IllegalArgumentException("maxSequences must be >= 1, got " + maxSequences);
            }
        }

        public static Options defaults() {
            return new Options(null, 16, 0, 8);
        }

        public Options withFormat(WeightFormat f) {
            return new Options(f, kvBlockSize, kvBlocks, maxSequences);
        }

        public Options withMaxSequences(int n) {
            return new Options(format, kvBlockSize, kvBlocks, n);
        }
    }

    /** Loads an opened model folder onto the CPU. */
    public static Engine load(OpenedModel model, Options options) {
        ModelWeights w = ModelWeights.load(model.config(), TensorSource.of(model), options.format());
        return new Engine(w, new CpuBackend(Parallel.shared()), null, options);
    }

    /**
     * @param placement where experts run (null: all on {@code backend})
     */
    public Engine(ModelWeights weights, CpuBackend backend, ExpertPlacement placement, Options options) {
        this.weights = weights;
        this.config = weights.config();
        Architecture.Sparse sparse = config.architecture().sparse();
        int experts = sparse == null ? 0 : sparse.experts();
        ExpertPlacement place = placement != null ? placement : ExpertPlacement.single(backend, config.layers(), experts);
        this.ctx = new Context(backend, backend.parallel(), place, new ExpertStats(config.layers(), experts));
        this.stack = buildStack();
        int blocksPerSequence = (config.contextLength() + options.kvBlockSize() - 1) / options.kvBlockSize();
        int blocks = options.kvBlocks() > 0 ? options.kvBlocks() : blocksPerSequence * options.maxSequences();
        this.pool = new BlockPool(blocks, options.kvBlockSize(), stack.slots(), config.dModel());
    }

    private LadderStack buildStack() {
        Attention.Rotary rotary = new Attention.Rotary(config.headSize(), config.contextLength(), config.ropeTheta());
        float eps = (float) config.normEps();
        Architecture.Sparse sparse = config.architecture().sparse();
        List<Block> blocks = new ArrayList<>();
        for (int l = 0; l < config.layers(); l++) {
            ModelWeights.Layer w = weights.layers[l];
            Attention attention = new Attention(w.wq(), w.wk(), w.wv(), w.wo(), config.heads(), rotary);
            ExpertFfn experts = null;
            Matrix w1 = null;
            Matrix w2 = null;
            if (config.architecture().isSparseLayer(l)) {
                experts = switch (sparse) {
                    case Architecture.Switch s -> new ExpertFfn(l, w.router(),
                            new TopKRouter(s.experts(), 1, s.capacityFactorEval()), null, w.w1(), w.w2());
                    case Architecture.TopK t -> new ExpertFfn(l, w.router(),
                            new TopKRouter(t.experts(), t.k(), t.capacityFactorEval()), null, w.w1(), w.w2());
                    case Architecture.Hash h -> new ExpertFfn(l, null, null, new TokenHashRouter(weights.hash), w.w1(), w.w2());
                };
            } else {
                w1 = w.w1()[0];
                w2 = w.w2()[0];
            }
            blocks.add(new Block(w.attnNorm(), attention, w.ffnNorm(), w1, w2, experts, eps));
        }
        return new LadderStack(blocks, config.architecture().passes());
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
     * Appends each step's tokens to its sequence and returns the logits of the token following each step
     * ([steps][vocab]). Capacity of learned routers is computed over all tokens of the call.
     *
     * @throws ContextLengthException when a sequence would pass the context length (nothing is changed)
     * @throws dev.switchback.kernels.kv.KvCacheFullException when the KV pool runs out (nothing is changed)
     */
    public float[][] forward(List<Step> steps) {
        if (steps.isEmpty()) {
            return new float[0][];
        }
        Set<Sequence> seen = new HashSet<>();
        for (Step s : steps) {
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
        reserve(steps);
        Batch b = new Batch(steps);
        int d = config.dModel();
        float[] x = new float[b.tokens * d];
        for (int t = 0; t < b.tokens; t++) {
            weights.tokenEmbedding.rowInto(b.ids[t], x, t * d);
        }
        stack.forward(b, x, ctx);
        float[] last = new float[steps.size() * d];
        Block.normRows(x, b.lastRow, weights.finalNorm, (float) config.normEps(), last, d);
        float[] logits = new float[steps.size() * config.vocabSize()];
        ctx.backend().linear(last, steps.size(), weights.head, logits);
        for (Step s : steps) {
            s.sequence().append(s.tokens());
        }
        float[][] out = new float[steps.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = java.util.Arrays.copyOfRange(logits, i * config.vocabSize(), (i + 1) * config.vocabSize());
        }
        return out;
    }

    /** Reserves KV blocks for every step, all or none. */
    private void reserve(List<Step> steps) {
        int need = 0;
        for (Step s : steps) {
            SequenceCache c = s.sequence().cache();
            // A sequence holding spare blocks needs none, but its spares are not free for the others.
            need += Math.max(0, c.blocksFor(s.sequence().length() + s.tokens().length) - c.blockCount());
        }
        if (need > pool.freeBlocks()) {
            throw new dev.switchback.kernels.kv.KvCacheFullException("KV cache full: this batch needs " + need
                    + " more block(s), " + pool.freeBlocks() + " of " + pool.totalBlocks() + " free");
        }
        for (Step s : steps) {
            s.sequence().cache().reserve(s.sequence().length() + s.tokens().length);
        }
    }

    /** Runs a whole prompt through a fresh sequence; returns the next-token logits. */
    public float[] prefill(Sequence sequence, int[] tokens) {
        return forward(List.of(new Step(sequence, tokens)))[0];
    }

    public ModelConfig config() {
        return config;
    }

    public ModelWeights weights() {
        return weights;
    }

    /** Per-expert routing and compute counters since load. */
    public ExpertStats expertStats() {
        return ctx.stats();
    }

    public ExpertPlacement placement() {
        return ctx.placement();
    }

    public BlockPool kvPool() {
        return pool;
    }
}
