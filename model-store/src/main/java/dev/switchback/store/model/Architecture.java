package dev.switchback.store.model;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;

/**
 * The kind of network a model is, shared by the trainer, the model store and the engine.
 *
 * <p>Adding a kind means adding one record here; every {@code switch} over architectures then fails
 * to compile until it handles the new kind.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "kind")
@JsonSubTypes({
    @JsonSubTypes.Type(value = Architecture.Dense.class, name = "dense"),
    @JsonSubTypes.Type(value = Architecture.Switch.class, name = "switch"),
    @JsonSubTypes.Type(value = Architecture.TopK.class, name = "topk"),
    @JsonSubTypes.Type(value = Architecture.Hash.class, name = "hash"),
    @JsonSubTypes.Type(value = Architecture.Ladder.class, name = "ladder"),
})
public sealed interface Architecture {

    /** Name used in {@code model.json}'s {@code kind} field. */
    String kind();

    /** Validates this architecture against the model's layer count; throws {@link ConfigException}. */
    void validate(int layers);

    /** How many times the block stack is applied (1 except for Ladder). */
    default int passes() {
        return 1;
    }

    /** The routing of the sparse layers, or {@code null} for a dense stack. */
    default Sparse sparse() {
        return null;
    }

    /** True if block {@code layer} (0-based) has a mixture-of-experts FFN. */
    default boolean isSparseLayer(int layer) {
        Sparse s = sparse();
        return s != null && (layer + 1) % s.every() == 0;
    }

    /** Parameters common to every sparse (mixture-of-experts) architecture. */
    sealed interface Sparse permits Switch, TopK, Hash {
        int experts();

        /** Every {@code every}-th block (1 = all blocks) is sparse. */
        int every();

        /** Dropout applied inside experts, separate from the model's dropout. */
        double expertDropout();
    }

    /** A plain decoder-only Transformer. */
    record Dense() implements Architecture {
        @Override
        public String kind() {
            return "dense";
        }

        @Override
        public void validate(int layers) {}
    }

    /**
     * Switch Transformer: top-1 learned router in float32, expert output scaled by router probability,
     * capacity-limited experts (overflow tokens skip the FFN), load-balancing and z-losses.
     */
    record Switch(
            int experts,
            int every,
            double capacityFactorTrain,
            double capacityFactorEval,
            double balanceLossAlpha,
            double zLossCoef,
            double initScale,
            double expertDropout)
            implements Architecture, Sparse {
        @Override
        public String kind() {
            return "switch";
        }

        @Override
        public Sparse sparse() {
            return this;
        }

        @Override
        public void validate(int layers) {
            Checks.sparse("architecture", experts, every, layers, expertDropout);
            Checks.learnedRouter("architecture", capacityFactorTrain, capacityFactorEval, balanceLossAlpha, zLossCoef, initScale);
        }

        /** The paper's defaults: every 2nd block, capacity 1.25 / 2.0, α = 0.01, z-loss 1e-3, init 0.1×. */
        public static Switch defaults(int experts) {
            return new Switch(experts, 2, 1.25, 2.0, 0.01, 1e-3, 0.1, 0.0);
        }
    }

    /** Top-k learned routing with gates renormalised over the chosen k experts. */
    record TopK(
            int experts,
            int k,
            int every,
            double capacityFactorTrain,
            double capacityFactorEval,
            double balanceLossAlpha,
            double zLossCoef,
            double initScale,
            double expertDropout)
            implements Architecture, Sparse {
        @Override
        public String kind() {
            return "topk";
        }

        @Override
        public Sparse sparse() {
            return this;
        }

        @Override
        public void validate(int layers) {
            Checks.sparse("architecture", experts, every, layers, expertDropout);
            Checks.learnedRouter("architecture", capacityFactorTrain, capacityFactorEval, balanceLossAlpha, zLossCoef, initScale);
            if (k < 1 || k > experts) {
                throw new ConfigException("architecture.k", "must be in [1, experts=" + experts + "], got " + k);
            }
        }
    }

    /**
     * Hash Layers: a fixed table maps each token id (or bigram) to an expert; no learned router, no gate,
     * no balancing loss. The table is saved with the model.
     */
    record Hash(int experts, int every, HashKind table, long seed, double expertDropout)
            implements Architecture, Sparse {
        @Override
        public String kind() {
            return "hash";
        }

        @Override
        public Sparse sparse() {
            return this;
        }

        @Override
        public void validate(int layers) {
            Checks.sparse("architecture", experts, every, layers, expertDropout);
            if (table == null) {
                throw new ConfigException("architecture.table", "must be one of random, balanced, bigram");
            }
        }
    }

    /** Ladder: the same block stack (of any non-ladder kind) applied {@code passes} times with shared weights. */
    record Ladder(int passes, Architecture base) implements Architecture {
        @Override
        public String kind() {
            return "ladder";
        }

        @Override
        public Sparse sparse() {
            return base.sparse();
        }

        @Override
        public int passes() {
            return passes;
        }

        @Override
        public void validate(int layers) {
            if (passes < 1) {
                throw new ConfigException("architecture.passes", "must be >= 1, got " + passes);
            }
            if (base == null) {
                throw new ConfigException("architecture.base", "is required (dense, switch, topk or hash)");
            }
            if (base instanceof Ladder) {
                throw new ConfigException("architecture.base", "a ladder cannot wrap another ladder");
            }
            base.validate(layers);
        }
    }

    /** How a Hash layer's token → expert table is built. */
    enum HashKind {
        /** Uniform random expert per token id. */
        random,
        /** Greedy by corpus token frequency so every expert gets near-equal token mass. */
        balanced,
        /** Hash of the previous and current token ids. */
        bigram
    }
}
