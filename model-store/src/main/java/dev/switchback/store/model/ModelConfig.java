package dev.switchback.store.model;

/**
 * The hyper-parameters of a decoder-only GPT (rotary positions, pre-RMSNorm, GELU FFN) and its architecture.
 *
 * @param vocabSize tokenizer vocabulary size
 * @param dModel width of the residual stream
 * @param layers number of blocks in the stack (a Ladder applies the stack several times)
 * @param heads attention heads; {@code dModel} must be divisible by it and the head size even (rotary)
 * @param dFf hidden width of each FFN (dense or expert)
 * @param contextLength longest sequence the model attends over
 * @param tiedEmbeddings whether the output projection re-uses the token embedding
 * @param ropeTheta rotary base
 * @param normEps RMSNorm epsilon
 */
public record ModelConfig(
        int vocabSize,
        int dModel,
        int layers,
        int heads,
        int dFf,
        int contextLength,
        boolean tiedEmbeddings,
        double ropeTheta,
        double normEps,
        Architecture architecture) {

    public ModelConfig {
        Checks.positive("model.vocabSize", vocabSize);
        Checks.positive("model.dModel", dModel);
        Checks.positive("model.layers", layers);
        Checks.positive("model.heads", heads);
        Checks.positive("model.dFf", dFf);
        Checks.positive("model.contextLength", contextLength);
        Checks.positive("model.ropeTheta", ropeTheta);
        Checks.positive("model.normEps", normEps);
        if (dModel % heads != 0) {
            throw new ConfigException("model.heads", "dModel=" + dModel + " is not divisible by heads=" + heads);
        }
        if ((dModel / heads) % 2 != 0) {
            throw new ConfigException("model.heads", "head size dModel/heads=" + dModel / heads + " must be even for rotary");
        }
        if (architecture == null) {
            throw new ConfigException("model.architecture", "is required (dense, switch, topk, hash or ladder)");
        }
        architecture.validate(layers);
    }

    /** Size of one attention head. */
    public int headSize() {
        return dModel / heads;
    }

    /** Number of blocks whose FFN is a mixture of experts. */
    public int sparseLayerCount() {
        int n = 0;
        for (int i = 0; i < layers; i++) {
            if (architecture.isSparseLayer(i)) {
                n++;
            }
        }
        return n;
    }

    /** Parameters that are not embeddings or the output projection, all experts counted. */
    public long nonEmbeddingParameters() {
        return nonEmbedding(false);
    }

    /** Non-embedding parameters a single token uses: k experts per sparse layer, not all of them. */
    public long activeNonEmbeddingParameters() {
        return nonEmbedding(true);
    }

    /** All parameters, including embeddings and (if untied) the output projection. */
    public long totalParameters() {
        long embed = (long) vocabSize * dModel;
        return nonEmbeddingParameters() + embed + (tiedEmbeddings ? 0 : embed) + dModel;
    }

    private long nonEmbedding(boolean activeOnly) {
        long attention = 4L * dModel * dModel;
        long ffn = 2L * dModel * dFf;
        long norms = 2L * dModel;
        long total = 0;
        for (int i = 0; i < layers; i++) {
            total += attention + norms;
            if (!architecture.isSparseLayer(i)) {
                total += ffn;
                continue;
            }
            Architecture.Sparse s = architecture.sparse();
            int used = switch (s) {
                case Architecture.Switch sw -> 1;
                case Architecture.TopK tk -> tk.k();
                case Architecture.Hash h -> 1;
            };
            total += (long) (activeOnly ? used : s.experts()) * ffn;
            if (!(s instanceof Architecture.Hash)) {
                total += (long) dModel * s.experts(); // router
            }
        }
        return total;
    }
}
