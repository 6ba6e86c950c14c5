package dev.switchback.store;

/**
 * Names of a model's tensors in the store, shared by the trainer (which writes them) and the engine (which reads
 * them). Matrices are stored [out, in]. Expert tensors live in {@code experts-<layer>.safetensors}, everything
 * else in {@code model.safetensors}.
 */
public final class TensorNames {
    /** Token embedding [vocab, d]; also the output projection when embeddings are tied. */
    public static final String TOK_EMB = "tok_emb.weight";
    /** Final RMSNorm gain [d]. */
    public static final String FINAL_NORM = "final_norm.weight";
    /** Output projection [vocab, d], present only when embeddings are untied. */
    public static final String LM_HEAD = "lm_head.weight";
    /** Hash Layers routing table, I32 [vocab]: the expert of each token id. */
    public static final String HASH_TABLE = "hash.table";

    private TensorNames() {}

    public static String attnNorm(int layer) {
        return "blocks." + layer + ".attn_norm.weight";
    }

    public static String attnWq(int layer) {
        return "blocks." + layer + ".attn.wq";
    }

    public static String attnWk(int layer) {
        return "blocks." + layer + ".attn.wk";
    }

    public static String attnWv(int layer) {
        return "blocks." + layer + ".attn.wv";
    }

    public static String attnWo(int layer) {
        return "blocks." + layer + ".attn.wo";
    }

    public static String ffnNorm(int layer) {
        return "blocks." + layer + ".ffn_norm.weight";
    }

    /** Dense FFN input matrix [dFf, d]. */
    public static String ffnW1(int layer) {
        return "blocks." + layer + ".ffn.w1";
    }

    /** Dense FFN output matrix [d, dFf]. */
    public static String ffnW2(int layer) {
        return "blocks." + layer + ".ffn.w2";
    }

    /** Learned router [experts, d] of a sparse layer. */
    public static String router(int layer) {
        return "blocks." + layer + ".router.weight";
    }

    public static String expertW1(int layer, int expert) {
        return "blocks." + layer + ".experts." + expert + ".w1";
    }

    public static String expertW2(int layer, int expert) {
        return "blocks." + layer + ".experts." + expert + ".w2";
    }

    /** True for tensors stored in the per-layer experts file. */
    public static boolean isExpert(String name) {
        return name.contains(".experts.");
    }

    /** The file holding the experts of {@code layer}. */
    public static String expertsFile(int layer) {
        return "experts-" + layer + ".safetensors";
    }
}
