package dev.switchback.trainer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.switchback.store.TensorNames;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.HashRouting;
import dev.switchback.store.model.ModelConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;

/**
 * A decoder-only GPT (rotary positions, pre-RMSNorm, GELU FFN) of any {@link Architecture}: token embedding →
 * {@link LadderStack} → final norm → output projection (tied to the embedding or its own matrix).
 */
public final class Gpt implements AutoCloseable {
    private final ModelConfig config;
    private final double dropout;
    private final Parameters params;
    private final HashRouting hash;
    private final Rotary rotary;
    private final LadderStack stack;

    private Gpt(ModelConfig config, double dropout, Parameters params, HashRouting hash) {
        this.config = config;
        this.dropout = dropout;
        this.params = params;
        this.hash = hash;
        this.rotary = new Rotary(config.headSize(), config.contextLength(), config.ropeTheta());
        this.stack = stack(params::get);
    }

    /**
     * A freshly initialised model: embeddings N(0, 0.02); matrices truncated normal with σ = √(1/fan_in), the
     * residual output projections further scaled by 1/√(2·layers·passes); routers and experts of learned sparse
     * layers with σ = √(initScale/fan_in) (Switch's 0.1× initialisation); norm gains 1.
     *
     * @param hash the routing table for hash architectures (null otherwise)
     */
    public static Gpt initialise(NDManager manager, ModelConfig config, double dropout, long seed, HashRouting hash) {
        checkHash(config, hash);
        SplittableRandom rng = new SplittableRandom(seed);
        Parameters p = new Parameters(manager);
        int d = config.dModel();
        int v = config.vocabSize();
        int f = config.dFf();
        double residualScale = 1 / Math.sqrt(2.0 * config.layers() * config.architecture().passes());
        p.add(TensorNames.TOK_EMB, Parameters.truncatedNormal(rng, v * d, 0.02), v, d);
        Architecture.Sparse sparse = config.architecture().sparse();
        double sparseScale = switch (sparse) {
            case Architecture.Switch s -> s.initScale();
            case Architecture.TopK t -> t.initScale();
            case null, default -> 1.0;
        };
        for (int i = 0; i < config.layers(); i++) {
            p.add(TensorNames.attnNorm(i), Parameters.filled(d, 1f), d);
            p.add(TensorNames.attnWq(i), Parameters.truncatedNormal(rng, d * d, Math.sqrt(1.0 / d)), d, d);
            p.add(TensorNames.attnWk(i), Parameters.truncatedNormal(rng, d * d, Math.sqrt(1.0 / d)), d, d);
            p.add(TensorNames.attnWv(i), Parameters.truncatedNormal(rng, d * d, Math.sqrt(1.0 / d)), d, d);
            p.add(TensorNames.attnWo(i), Parameters.truncatedNormal(rng, d * d, Math.sqrt(1.0 / d) * residualScale), d, d);
            p.add(TensorNames.ffnNorm(i), Parameters.filled(d, 1f), d);
            if (!config.architecture().isSparseLayer(i)) {
                p.add(TensorNames.ffnW1(i), Parameters.truncatedNormal(rng, f * d, Math.sqrt(1.0 / d)), f, d);
                p.add(TensorNames.ffnW2(i), Parameters.truncatedNormal(rng, d * f, Math.sqrt(1.0 / f) * residualScale), d, f);
                continue;
            }
            if (!(sparse instanceof Architecture.Hash)) {
                p.add(TensorNames.router(i), Parameters.truncatedNormal(rng, sparse.experts() * d, Math.sqrt(sparseScale / d)),
                        sparse.experts(), d);
            }
            for (int e = 0; e < sparse.experts(); e++) {
                p.add(TensorNames.expertW1(i, e), Parameters.truncatedNormal(rng, f * d, Math.sqrt(sparseScale / d)), f, d);
                p.add(TensorNames.expertW2(i, e),
                        Parameters.truncatedNormal(rng, d * f, Math.sqrt(sparseScale / f) * residualScale), d, f);
            }
        }
        p.add(TensorNames.FINAL_NORM, Parameters.filled(d, 1f), d);
        if (!config.tiedEmbeddings()) {
            p.add(TensorNames.LM_HEAD, Parameters.truncatedNormal(rng, v * d, Math.sqrt(1.0 / d)), v, d);
        }
        return new Gpt(config, dropout, p, hash);
    }

    /** A model with the given tensor values (from a checkpoint or a published model). */
    public static Gpt fromTensors(
            NDManager manager, ModelConfig config, double dropout, HashRouting hash, java.util.Map<String, float[]> tensors) {
        Gpt gpt = initialise(manager, config, dropout, 0, hash);
        gpt.params.load(tensors);
        return gpt;
    }

    private static void checkHash(ModelConfig config, HashRouting hash) {
        boolean needs = config.architecture().sparse() instanceof Architecture.Hash;
        if (needs && hash == null) {
            throw new IllegalArgumentException("a hash architecture needs its routing table");
        }
        if (needs && (hash.experts() != config.architecture().sparse().experts() || hash.table().length != config.vocabSize())) {
            throw new IllegalArgumentException("hash table does not match the architecture (experts or vocabulary size)");
        }
    }

    /** The block stack over weights looked up by store name: the parameters, or (for inference) views of them. */
    LadderStack stack(Function<String, NDArray> weights) {
        float eps = (float) config.normEps();
        Architecture.Sparse sparse = config.architecture().sparse();
        List<Block> blocks = new ArrayList<>();
        for (int i = 0; i < config.layers(); i++) {
            Attention attention = new Attention(weights.apply(TensorNames.attnWq(i)), weights.apply(TensorNames.attnWk(i)),
                    weights.apply(TensorNames.attnWv(i)), weights.apply(TensorNames.attnWo(i)), config.heads(), rotary);
            FeedForward dense = null;
            ExpertFfn experts = null;
            if (config.architecture().isSparseLayer(i)) {
                FeedForward[] ffns = new FeedForward[sparse.experts()];
                for (int e = 0; e < ffns.length; e++) {
                    ffns[e] = new FeedForward(weights.apply(TensorNames.expertW1(i, e)),
                            weights.apply(TensorNames.expertW2(i, e)), sparse.expertDropout());
                }
                Router router = switch (sparse) {
                    case Architecture.Switch s -> new Router(weights.apply(TensorNames.router(i)), s.experts(), 1,
                            s.capacityFactorTrain(), s.capacityFactorEval(), s.balanceLossAlpha());
                    case Architecture.TopK t -> new Router(weights.apply(TensorNames.router(i)), t.experts(), t.k(),
                            t.capacityFactorTrain(), t.capacityFactorEval(), t.balanceLossAlpha());
                    case Architecture.Hash h -> null;
                };
                experts = new ExpertFfn(ffns, router);
            } else {
                dense = new FeedForward(weights.apply(TensorNames.ffnW1(i)), weights.apply(TensorNames.ffnW2(i)), 0);
            }
            blocks.add(new Block(i, weights.apply(TensorNames.attnNorm(i)), attention, weights.apply(TensorNames.ffnNorm(i)),
                    dense, experts, eps, dropout));
        }
        return new LadderStack(blocks, config.architecture().passes());
    }

    /**
     * Runs the model on {@code tokens} ([B][S] ids); arrays are created in {@code manager}.
     *
     * @param training dropout on and the training capacity factor when true
     */
    public ForwardPass forward(NDManager manager, int[][] tokens, boolean training) {
        HashRouter hashRouter = hash == null ? null : new HashRouter(hash);
        ForwardPass pass = new ForwardPass(manager, training, () -> hashRouter.route(tokens));
        NDArray ids = Host.ints(manager, tokens);
        NDArray x = Ops.dropout(params.get(TensorNames.TOK_EMB).get(ids), dropout, training);
        x = stack.forward(x, pass);
        pass.setLogits(logits(x, params::get));
        return pass;
    }

    /** Final norm and output projection of hidden states [.., d] → [.., vocab], over weights looked up by store name. */
    NDArray logits(NDArray hidden, Function<String, NDArray> weights) {
        NDArray x = Ops.rmsNorm(hidden, weights.apply(TensorNames.FINAL_NORM), (float) config.normEps());
        return Ops.linear(x, weights.apply(config.tiedEmbeddings() ? TensorNames.TOK_EMB : TensorNames.LM_HEAD));
    }

    Rotary rotary() {
        return rotary;
    }

    /** Mean next-token cross-entropy of logits [B, S, V] against targets [B][S]. */
    public static NDArray crossEntropy(NDManager manager, NDArray logits, int[][] targets) {
        NDArray t = Host.ints(manager, targets).toType(ai.djl.ndarray.types.DataType.INT64, false).expandDims(-1);
        return logits.logSoftmax(-1).gather(t, 2).neg().mean();
    }

    /** The z-loss coefficient of learned routers (0 for other architectures). */
    public double zLossCoef() {
        return switch (config.architecture().sparse()) {
            case Architecture.Switch s -> s.zLossCoef();
            case Architecture.TopK t -> t.zLossCoef();
            case null, default -> 0;
        };
    }

    public ModelConfig config() {
        return config;
    }

    public Parameters parameters() {
        return params;
    }

    /** The hash routing table, or null for non-hash architectures. */
    public HashRouting hashRouting() {
        return hash;
    }

    @Override
    public void close() {
        params.close();
    }
}
