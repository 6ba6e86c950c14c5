package dev.switchback.store;

import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.safetensors.DType;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Tensor names and shapes of the model format, used by the trainer that writes them and the engine that reads
 * them, so nobody spells a name twice. Blocks and experts are 0-based; matrices are stored {@code [out, in]}.
 *
 * <pre>
 * model.safetensors
 *   tok_emb.weight                 [V, d]
 *   blocks.{i}.attn_norm.weight    [d]
 *   blocks.{i}.attn.wq|wk|wv|wo    [d, d]
 *   blocks.{i}.ffn_norm.weight     [d]
 *   blocks.{i}.ffn.w1              [dFf, d]   dense blocks only
 *   blocks.{i}.ffn.w2              [d, dFf]   dense blocks only
 *   blocks.{i}.router.weight       [E, d]     sparse blocks with a learned router (switch, topk)
 *   hash.table                     I32 [V]    hash architectures with a random or balanced table (one for all layers)
 *   final_norm.weight              [d]
 *   lm_head.weight                 [V, d]     only when embeddings are untied
 * experts-{i}.safetensors
 *   blocks.{i}.experts.{e}.w1      [dFf, d]
 *   blocks.{i}.experts.{e}.w2      [d, dFf]
 * </pre>
 *
 * A Ladder stores its stack once: every pass re-uses the same tensors. Bigram hash routing computes the expert from
 * the token ids and stores no table.
 */
public final class TensorNames {
    public static final String TOK_EMB = "tok_emb.weight";
    public static final String FINAL_NORM = "final_norm.weight";
    public static final String LM_HEAD = "lm_head.weight";
    public static final String HASH_TABLE = "hash.table";

    private TensorNames() {}

    public static String attnNorm(int layer) {
        return block(layer) + "attn_norm.weight";
    }

    public static String attnWq(int layer) {
        return block(layer) + "attn.wq";
    }

    public static String attnWk(int layer) {
        return block(layer) + "attn.wk";
    }

    public static String attnWv(int layer) {
        return block(layer) + "attn.wv";
    }

    public static String attnWo(int layer) {
        return block(layer) + "attn.wo";
    }

    public static String ffnNorm(int layer) {
        return block(layer) + "ffn_norm.weight";
    }

    /** Dense FFN input projection {@code [dFf, d]}. */
    public static String ffnW1(int layer) {
        return block(layer) + "ffn.w1";
    }

    /** Dense FFN output projection {@code [d, dFf]}. */
    public static String ffnW2(int layer) {
        return block(layer) + "ffn.w2";
    }

    /** Learned router {@code [E, d]} of a sparse block. */
    public static String router(int layer) {
        return block(layer) + "router.weight";
    }

    /** Input projection {@code [dFf, d]} of expert {@code expert} in block {@code layer}. */
    public static String expertW1(int layer, int expert) {
        return expert(layer, expert) + "w1";
    }

    /** Output projection {@code [d, dFf]} of expert {@code expert} in block {@code layer}. */
    public static String expertW2(int layer, int expert) {
        return expert(layer, expert) + "w2";
    }

    /** Whether this architecture stores {@link #HASH_TABLE}. */
    public static boolean hasHashTable(ModelConfig config) {
        return config.architecture().sparse() instanceof Architecture.Hash h && h.table() != Architecture.HashKind.bigram;
    }

    /** Every tensor {@code model.safetensors} holds for {@code config}, with its shape, in a stable order. */
    public static Map<String, long[]> sharedShapes(ModelConfig config) {
        long v = config.vocabSize();
        long d = config.dModel();
        long ff = config.dFf();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        shapes.put(TOK_EMB, new long[] {v, d});
        for (int i = 0; i < config.layers(); i++) {
            shapes.put(attnNorm(i), new long[] {d});
            shapes.put(attnWq(i), new long[] {d, d});
            shapes.put(attnWk(i), new long[] {d, d});
            shapes.put(attnWv(i), new long[] {d, d});
            shapes.put(attnWo(i), new long[] {d, d});
            shapes.put(ffnNorm(i), new long[] {d});
            if (!config.architecture().isSparseLayer(i)) {
                shapes.put(ffnW1(i), new long[] {ff, d});
                shapes.put(ffnW2(i), new long[] {d, ff});
            } else if (!(config.architecture().sparse() instanceof Architecture.Hash)) {
                shapes.put(router(i), new long[] {config.architecture().sparse().experts(), d});
            }
        }
        if (hasHashTable(config)) {
            shapes.put(HASH_TABLE, new long[] {v});
        }
        shapes.put(FINAL_NORM, new long[] {d});
        if (!config.tiedEmbeddings()) {
            shapes.put(LM_HEAD, new long[] {v, d});
        }
        return Collections.unmodifiableMap(shapes);
    }

    /** Every tensor {@code experts-<layer>.safetensors} holds for {@code config}, with its shape. */
    public static Map<String, long[]> expertShapes(ModelConfig config, int layer) {
        if (!config.architecture().isSparseLayer(layer)) {
            throw new IllegalArgumentException("block " + layer + " is not sparse");
        }
        long d = config.dModel();
        long ff = config.dFf();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (int e = 0; e < config.architecture().sparse().experts(); e++) {
            shapes.put(expertW1(layer, e), new long[] {ff, d});
            shapes.put(expertW2(layer, e), new long[] {d, ff});
        }
        return Collections.unmodifiableMap(shapes);
    }

    /** The element type tensor {@code name} must have in a model whose weights are {@code weights}. */
    static boolean dtypeAllowed(String name, DType actual, DType weights) {
        if (name.equals(HASH_TABLE)) {
            return actual == DType.I32;
        }
        // Norms and routers may stay in float32 (the router is computed in float32) whatever the weight type.
        return actual == weights || actual == DType.F32;
    }

    private static String block(int layer) {
        if (layer < 0) {
            throw new IllegalArgumentException("layer must be >= 0, got " + layer);
        }
        return "blocks." + layer + ".";
    }

    private static String expert(int layer, int expert) {
        if (expert < 0) {
            throw new IllegalArgumentException("expert must be >= 0, got " + expert);
        }
        return block(layer) + "experts." + expert + ".";
    }
}
