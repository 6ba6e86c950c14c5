package dev.switchback.store.onnx;

import static dev.switchback.store.onnx.Onnx.BOOL;
import static dev.switchback.store.onnx.Onnx.FLOAT;
import static dev.switchback.store.onnx.Onnx.INT64;

import dev.switchback.store.TensorNames;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.model.RotaryTables;
import java.util.List;
import java.util.function.Function;

/**
 * A dense decoder as an ONNX graph with a KV cache, computing what the native engine computes: token embedding,
 * then per block x += Attn(RMSNorm(x)), x += W₂·GELU_tanh(W₁·RMSNorm(x)), a final RMSNorm and the output
 * projection. Attention is causal multi-head with half-split rotary positions (angle tables built as the engine
 * builds them), scaled by 1/√d_h, over the past keys and values concatenated with the new ones.
 *
 * <p>Inputs and outputs follow Hugging Face Optimum's decoder-with-past naming: {@code input_ids},
 * {@code attention_mask} [batch, past + new] (1 = attend), {@code position_ids}, {@code past_key_values.{i}.key|value}
 * [batch, heads, past, head_dim] → {@code logits} [batch, new, vocab], {@code present.{i}.key|value}
 * [batch, heads, past + new, head_dim]. Query i of a row sees key j when j ≤ past + i and the mask is 1 at j, so
 * rows of different lengths batch together with left-padded pasts and right-padded new tokens.
 */
final class DecoderGraph {
    static final String INPUT_IDS = "input_ids";
    static final String ATTENTION_MASK = "attention_mask";
    static final String POSITION_IDS = "position_ids";
    static final String LOGITS = "logits";

    private static final String BATCH = "batch_size";
    private static final String SEQUENCE = "sequence_length";
    private static final String PAST = "past_sequence_length";
    private static final String TOTAL = "total_sequence_length";

    private final OnnxGraph g = new OnnxGraph();
    private final ModelConfig c;
    private final Function<String, float[]> weights;
    private final int headSize;
    private String rows; // shape [-1, d]: tokens as rows
    private String heads; // shape [batch, seq, heads, head_dim]
    private String allowed; // [batch, 1, seq, total] which keys each query sees
    private String cos; // [batch, 1, seq, head_dim/2]
    private String sin;

    private DecoderGraph(ModelConfig config, Function<String, float[]> weights) {
        this.c = config;
        this.weights = weights;
        this.headSize = config.headSize();
    }

    /**
     * The graph of a dense model.
     *
     * @param weights a tensor's values (as float32) by its {@link TensorNames} name
     */
    static OnnxGraph build(ModelConfig config, Function<String, float[]> weights) {
        return new DecoderGraph(config, weights).build();
    }

    static String pastKey(int layer) {
        return "past_key_values." + layer + ".key";
    }

    static String pastValue(int layer) {
        return "past_key_values." + layer + ".value";
    }

    static String presentKey(int layer) {
        return "present." + layer + ".key";
    }

    static String presentValue(int layer) {
        return "present." + layer + ".value";
    }

    private OnnxGraph build() {
        declareInputsAndOutputs();
        String ids = g.op("Shape", INPUT_IDS);
        rows = g.ints(-1, c.dModel());
        heads = g.op("Concat", List.of(new Onnx.Attribute.Int("axis", 0)), ids, g.ints(c.heads(), headSize));
        allowed = visibility();
        rotaryAngles();
        String x = g.op("Reshape", g.op("Gather", matrix(TensorNames.TOK_EMB, c.vocabSize(), c.dModel()), INPUT_IDS), rows);
        for (int l = 0; l < c.layers(); l++) {
            x = g.op("Add", x, attention(l, rmsNorm(x, TensorNames.attnNorm(l))));
            x = g.op("Add", x, feedForward(l, rmsNorm(x, TensorNames.ffnNorm(l))));
        }
        String head = c.tiedEmbeddings() ? TensorNames.TOK_EMB : matrix(TensorNames.LM_HEAD, c.vocabSize(), c.dModel());
        String logitsShape = g.op("Concat", List.of(new Onnx.Attribute.Int("axis", 0)), ids, g.ints(c.vocabSize()));
        g.opTo(LOGITS, "Reshape", List.of(), linear(rmsNorm(x, TensorNames.FINAL_NORM), head), logitsShape);
        return g;
    }

    private void declareInputsAndOutputs() {
        g.input(Onnx.valueInfo(INPUT_IDS, INT64, BATCH, SEQUENCE));
        g.input(Onnx.valueInfo(ATTENTION_MASK, INT64, BATCH, TOTAL));
        g.input(Onnx.valueInfo(POSITION_IDS, INT64, BATCH, SEQUENCE));
        for (int l = 0; l < c.layers(); l++) {
            g.input(Onnx.valueInfo(pastKey(l), FLOAT, BATCH, c.heads(), PAST, headSize));
            g.input(Onnx.valueInfo(pastValue(l), FLOAT, BATCH, c.heads(), PAST, headSize));
        }
        g.output(Onnx.valueInfo(LOGITS, FLOAT, BATCH, SEQUENCE, c.vocabSize()));
        for (int l = 0; l < c.layers(); l++) {
            g.output(Onnx.valueInfo(presentKey(l), FLOAT, BATCH, c.heads(), TOTAL, headSize));
            g.output(Onnx.valueInfo(presentValue(l), FLOAT, BATCH, c.heads(), TOTAL, headSize));
        }
    }

    /** [batch, 1, seq, total]: key j is visible to new token i when j ≤ past + i (causal) and the mask allows j. */
    private String visibility() {
        List<Onnx.Attribute> secondDim = List.of(new Onnx.Attribute.Int("start", 1), new Onnx.Attribute.Int("end", 2));
        String total = g.op("Shape", secondDim, ATTENTION_MASK);
        String seq = g.op("Shape", secondDim, INPUT_IDS);
        String past = g.op("Sub", total, seq);
        String zero = g.scalar(0L);
        String one = g.scalar(1L);
        String first = g.ints(0);
        String keys = g.op("Range", zero, g.op("Squeeze", total, first), one);
        String queries = g.op("Add", g.op("Range", zero, g.op("Squeeze", seq, first), one), past);
        String causal = g.op("LessOrEqual", g.op("Unsqueeze", keys, g.ints(0)), g.op("Unsqueeze", queries, g.ints(1)));
        String mask = g.op("Cast", List.of(new Onnx.Attribute.Int("to", BOOL)), ATTENTION_MASK);
        return g.op("And", causal, g.op("Unsqueeze", mask, g.ints(1, 2)));
    }

    /** cos and sin of each token's rotary angles, [batch, 1, seq, head_dim/2], from tables over every position. */
    private void rotaryAngles() {
        int half = headSize / 2;
        int positions = c.contextLength();
        RotaryTables tables = RotaryTables.of(headSize, positions, c.ropeTheta());
        float[] cosTable = tables.cos();
        float[] sinTable = tables.sin();
        String headAxis = g.ints(1);
        cos = g.op("Unsqueeze", g.op("Gather", g.weight("rotary.cos", cosTable, positions, half), POSITION_IDS), headAxis);
        sin = g.op("Unsqueeze", g.op("Gather", g.weight("rotary.sin", sinTable, positions, half), POSITION_IDS), headAxis);
    }

    /** x·gain/√(mean(x²) + ε) over each row of [tokens, d]. */
    private String rmsNorm(String x, String gainName) {
        String gain = g.weight(gainName, weights.apply(gainName), c.dModel());
        String meanSquare = g.op("ReduceMean", List.of(new Onnx.Attribute.Ints("axes", -1), new Onnx.Attribute.Int("keepdims", 1)),
                g.op("Mul", x, x));
        String inv = g.op("Reciprocal", g.op("Sqrt", g.op("Add", meanSquare, g.scalar((float) c.normEps()))));
        return g.op("Mul", g.op("Mul", x, inv), gain);
    }

    /** Multi-head attention of block {@code layer} over the past and new keys; writes present.{layer}.*. */
    private String attention(int layer, String x) {
        int d = c.dModel();
        String q = rotary(toHeads(linear(x, matrix(TensorNames.attnWq(layer), d, d))));
        String k = rotary(toHeads(linear(x, matrix(TensorNames.attnWk(layer), d, d))));
        String v = toHeads(linear(x, matrix(TensorNames.attnWv(layer), d, d)));
        List<Onnx.Attribute> timeAxis = List.of(new Onnx.Attribute.Int("axis", 2));
        g.opTo(presentKey(layer), "Concat", timeAxis, pastKey(layer), k);
        g.opTo(presentValue(layer), "Concat", timeAxis, pastValue(layer), v);
        String keysT = g.op("Transpose", List.of(new Onnx.Attribute.Ints("perm", 0, 1, 3, 2)), presentKey(layer));
        String scores = g.op("Mul", g.op("MatMul", q, keysT), g.scalar((float) (1 / Math.sqrt(headSize))));
        String masked = g.op("Where", allowed, scores, g.scalar(-Float.MAX_VALUE));
        String probs = g.op("Softmax", List.of(new Onnx.Attribute.Int("axis", -1)), masked);
        String mixed = g.op("Transpose", List.of(new Onnx.Attribute.Ints("perm", 0, 2, 1, 3)),
                g.op("MatMul", probs, presentValue(layer)));
        return linear(g.op("Reshape", mixed, rows), matrix(TensorNames.attnWo(layer), d, d));
    }

    /** W₂·GELU(W₁·x) of block {@code layer}, GELU in its tanh form as the engine computes it. */
    private String feedForward(int layer, String x) {
        String h = linear(x, matrix(TensorNames.ffnW1(layer), c.dFf(), c.dModel()));
        String cube = g.op("Mul", g.op("Mul", h, h), h);
        String inner = g.op("Mul", g.op("Add", g.op("Mul", cube, g.scalar(0.044715f)), h),
                g.scalar((float) Math.sqrt(2 / Math.PI)));
        String gelu = g.op("Mul", g.op("Mul", h, g.scalar(0.5f)), g.op("Add", g.op("Tanh", inner), g.scalar(1f)));
        return linear(gelu, matrix(TensorNames.ffnW2(layer), c.dModel(), c.dFf()));
    }

    /** [tokens, d] → [batch, heads, seq, head_dim]. */
    private String toHeads(String x) {
        return g.op("Transpose", List.of(new Onnx.Attribute.Ints("perm", 0, 2, 1, 3)), g.op("Reshape", x, heads));
    }

    /** Half-split rotary: [x₁, x₂] → [x₁·cos − x₂·sin, x₁·sin + x₂·cos] over the last axis. */
    private String rotary(String x) {
        int half = headSize / 2;
        String axis = g.ints(3);
        String x1 = g.op("Slice", x, g.ints(0), g.ints(half), axis);
        String x2 = g.op("Slice", x, g.ints(half), g.ints(headSize), axis);
        String first = g.op("Sub", g.op("Mul", x1, cos), g.op("Mul", x2, sin));
        String second = g.op("Add", g.op("Mul", x1, sin), g.op("Mul", x2, cos));
        return g.op("Concat", List.of(new Onnx.Attribute.Int("axis", 3)), first, second);
    }

    /** x·Wᵀ with W stored [out, in] as in the model folder. */
    private String linear(String x, String w) {
        return g.op("Gemm", List.of(new Onnx.Attribute.Int("transB", 1)), x, w);
    }

    private String matrix(String name, int rows, int cols) {
        return g.weight(name, weights.apply(name), rows, cols);
    }
}
