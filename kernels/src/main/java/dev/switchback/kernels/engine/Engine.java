package dev.switchback.kernels.engine;

import dev.switchback.kernels.cpu.Parallel;
import dev.switchback.kernels.kv.KvFormat;
import dev.switchback.kernels.routing.ExpertStats;
import dev.switchback.kernels.routing.TokenHashRouter;
import dev.switchback.kernels.routing.TopKRouter;
import dev.switchback.kernels.tensor.Matrix;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.ModelConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs a model of any architecture over batches of sequences: each call takes new tokens for some sequences
 * (a prompt chunk or one decoded token each), extends their KV caches and returns the next-token logits of each.
 * Mixing prefill and decode in one call is what continuous batching needs. One thread calls {@link #forward}
 * at a time; the kernels inside it use the whole pool.
 */
public final class Engine implements StepEngine {
    private final ModelWeights weights;
    private final ModelConfig config;
    private final Context ctx;
    private final LadderStack stack;
    private final KvSequences sequences;

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
    public record Options(WeightFormat format, int kvBlockSize, int kvBlocks, int maxSequences, KvFormat kvFormat) {
        /** Options with an F32 KV cache. */
        public Options(WeightFormat format, int kvBlockSize, int kvBlocks, int maxSequences) {
            this(format, kvBlockSize, kvBlocks, maxSequences, KvFormat.F32);
        }

        public Options {
            java.util.Objects.requireNonNull(kvFormat, "kvFormat");
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
            return new Options(f, kvBlockSize, kvBlocks, maxSequences, kvFormat);
        }

        public Options withMaxSequences(int n) {
            return new Options(format, kvBlockSize, kvBlocks, n, kvFormat);
        }

        /** Keys and values stored as {@code f} (BF16: half the memory per sequence; attention still in F32). */
        public Options withKvFormat(KvFormat f) {
            return new Options(format, kvBlockSize, kvBlocks, maxSequences, f);
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
        if (place.layers() != config.layers() || place.experts() != experts) {
            throw new IllegalArgumentException("the expert placement covers " + place.layers() + " layers of " + place.experts()
                    + " experts; the model has " + config.layers() + " layers of " + experts);
        }
        this.ctx = new Context(backend, backend.parallel(), place, new ExpertStats(config.layers(), experts));
        this.stack = buildStack();
        this.sequences = new KvSequences(KvSequences.pool(config, options, stack.slots()), config);
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

    /**
     * Appends each step's tokens to its sequence and returns the logits of the token following each step
     * ([steps][vocab]). Capacity of learned routers is computed over all tokens of the call.
     *
     * @throws ContextLengthException when a sequence would pass the context length (nothing is changed)
     * @throws dev.switchback.kernels.kv.KvCacheFullException when the KV pool runs out (nothing is changed)
     */
    @Override
    public float[][] forward(List<Step> steps) {
        if (steps.isEmpty()) {
            return new float[0][];
        }
        sequences.begin(steps);
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
        sequences.commit(steps);
        float[][] out = new float[steps.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = java.util.Arrays.copyOfRange(logits, i * config.vocabSize(), (i + 1) * config.vocabSize());
        }
        return out;
    }

    @Override
    public void pause() {
        ctx.parallel().rest();
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    public ModelWeights weights() {
        return weights;
    }

    /** Per-expert routing and compute counters since load. */
    @Override
    public ExpertStats expertStats() {
        return ctx.stats();
    }

    public ExpertPlacement placement() {
        return ctx.placement();
    }

    @Override
    public String expertDevice(int layer, int expert) {
        return String.join("+", ctx.placement().replicas(layer, expert).stream().map(Backend::device).toList());
    }

    /** Weights on each device (see {@link ModelWeights#bytesByDevice}). */
    @Override
    public java.util.Map<String, Long> deviceBytes() {
        return weights.bytesByDevice(ctx.backend().device(), ctx.placement());
    }

    @Override
    public KvSequences sequences() {
        return sequences;
    }
}
