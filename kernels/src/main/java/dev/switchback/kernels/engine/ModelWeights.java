package dev.switchback.kernels.engine;

import dev.switchback.kernels.tensor.Matrix;
import dev.switchback.store.TensorNames;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.HashRouting;
import dev.switchback.store.model.ModelConfig;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A model's weights as the engine holds them, checked against the shapes its config implies before anything is
 * computed: a missing tensor or a wrong shape fails here, naming the tensor and its file.
 */
public final class ModelWeights {
    private final ModelConfig config;
    private final WeightFormat format;
    final Matrix tokenEmbedding;
    final Matrix head;
    final float[] finalNorm;
    final Layer[] layers;
    final HashRouting hash;

    /** One block's weights; {@code w1/w2} hold one matrix for a dense FFN, one per expert for a sparse one. */
    record Layer(float[] attnNorm, Matrix wq, Matrix wk, Matrix wv, Matrix wo, float[] ffnNorm, Matrix router,
            Matrix[] w1, Matrix[] w2) {}

    private ModelWeights(ModelConfig config, WeightFormat format, Matrix tokenEmbedding, Matrix head, float[] finalNorm,
            Layer[] layers, HashRouting hash) {
        this.config = config;
        this.format = format;
        this.tokenEmbedding = tokenEmbedding;
        this.head = head;
        this.finalNorm = finalNorm;
        this.layers = layers;
        this.hash = hash;
    }

    /**
     * Loads and checks every tensor {@code config} needs.
     *
     * @param format how to hold the matrices; null keeps BF16 where the source stores BF16, else F32
     * @throws IllegalArgumentException naming the first missing or misshapen tensor
     */
    public static ModelWeights load(ModelConfig config, TensorSource source, WeightFormat format) {
        Map<String, long[]> expected = new LinkedHashMap<>(TensorNames.sharedShapes(config));
        for (int l = 0; l < config.layers(); l++) {
            if (config.architecture().isSparseLayer(l)) {
                expected.putAll(TensorNames.expertShapes(config, l));
            }
        }
        for (var e : expected.entrySet()) {
            long[] actual = source.shape(e.getKey());
            if (actual == null) {
                throw new IllegalArgumentException("missing tensor '" + e.getKey() + "' (expected shape "
                        + Arrays.toString(e.getValue()) + ")");
            }
            if (!Arrays.equals(actual, e.getValue())) {
                throw new IllegalArgumentException("tensor '" + e.getKey() + "' in " + source.describe(e.getKey())
                        + " has shape " + Arrays.toString(actual) + ", expected " + Arrays.toString(e.getValue()));
            }
        }
        Loader in = new Loader(source, format);
        int d = config.dModel();
        Architecture.Sparse sparse = config.architecture().sparse();
        Layer[] layers = new Layer[config.layers()];
        for (int l = 0; l < layers.length; l++) {
            Matrix router = null;
            Matrix[] w1;
            Matrix[] w2;
            if (config.architecture().isSparseLayer(l)) {
                if (!(sparse instanceof Architecture.Hash)) {
                    router = in.f32Matrix(TensorNames.router(l), sparse.experts(), d);
                }
                w1 = new Matrix[sparse.experts()];
                w2 = new Matrix[sparse.experts()];
                for (int e = 0; e < w1.length; e++) {
                    w1[e] = in.matrix(TensorNames.expertW1(l, e), config.dFf(), d);
                    w2[e] = in.matrix(TensorNames.expertW2(l, e), d, config.dFf());
                }
            } else {
                w1 = new Matrix[] {in.matrix(TensorNames.ffnW1(l), config.dFf(), d)};
                w2 = new Matrix[] {in.matrix(TensorNames.ffnW2(l), d, config.dFf())};
            }
            layers[l] = new Layer(source.floats(TensorNames.attnNorm(l)), in.matrix(TensorNames.attnWq(l), d, d),
                    in.matrix(TensorNames.attnWk(l), d, d), in.matrix(TensorNames.attnWv(l), d, d),
                    in.matrix(TensorNames.attnWo(l), d, d), source.floats(TensorNames.ffnNorm(l)), router, w1, w2);
        }
        Matrix embedding = in.matrix(TensorNames.TOK_EMB, config.vocabSize(), d);
        Matrix head = config.tiedEmbeddings() ? embedding : in.matrix(TensorNames.LM_HEAD, config.vocabSize(), d);
        HashRouting hash = null;
        if (sparse instanceof Architecture.Hash h) {
            int[] table = TensorNames.hasHashTable(config)
                    ? source.ints(TensorNames.HASH_TABLE)
                    : HashRouting.build(h.table(), h.experts(), new long[config.vocabSize()], h.seed()).table();
            hash = new HashRouting(h.table(), h.experts(), table);
        }
        WeightFormat held = format != null ? format : in.sawBf16 ? WeightFormat.BF16 : WeightFormat.F32;
        return new ModelWeights(config, held, embedding, head, source.floats(TensorNames.FINAL_NORM), layers, hash);
    }

    /** Reads matrices in the requested format, keeping stored BF16 bits as they are. */
    private static final class Loader {
        private final TensorSource source;
        private final WeightFormat format;
        boolean sawBf16;

        Loader(TensorSource source, WeightFormat format) {
            this.source = source;
            this.format = format;
        }

        Matrix matrix(String name, int rows, int cols) {
            short[] bits = source.bf16Bits(name);
            if (bits != null) {
                sawBf16 = true;
                if (format != WeightFormat.F32) {
                    return new Matrix.Bf16(bits, rows, cols);
                }
            }
            float[] values = source.floats(name);
            return format == WeightFormat.BF16 ? Matrix.bf16(values, rows, cols) : Matrix.f32(values, rows, cols);
        }

        Matrix f32Matrix(String name, int rows, int cols) {
            return Matrix.f32(source.floats(name), rows, cols);
        }
    }

    public ModelConfig config() {
        return config;
    }

    public WeightFormat format() {
        return format;
    }

    /**
     * Bytes of weights one token reads in a forward pass — every pass's attention and router, the experts it is
     * routed to (k per sparse layer), its embedding row and the output projection — the numerator of the
     * memory-bandwidth roofline.
     */
    public long activeBytesPerToken() {
        int k = switch (config.architecture().sparse()) {
            case Architecture.TopK t -> t.k();
            case null -> 0;
            default -> 1;
        };
        long perPass = 0;
        for (Layer layer : layers) {
            perPass += layer.wq().bytes() + layer.wk().bytes() + layer.wv().bytes() + layer.wo().bytes();
            perPass += layer.router() == null ? 0 : layer.router().bytes();
            int used = layer.w1().length == 1 ? 1 : k;
            perPass += used * (layer.w1()[0].bytes() + layer.w2()[0].bytes());
        }
        long embeddingRow = tokenEmbedding.bytes() / tokenEmbedding.rows();
        return perPass * config.architecture().passes() + embeddingRow + head.bytes();
    }

    /**
     * Bytes of weights on each device: every sparse layer's experts where {@code placement} puts them (each replica
     * counted), everything else on {@code mainDevice}.
     */
    public java.util.Map<String, Long> bytesByDevice(String mainDevice, ExpertPlacement placement) {
        java.util.Map<String, Long> bytes = new java.util.TreeMap<>();
        long rest = tokenEmbedding.bytes() + (head != tokenEmbedding ? head.bytes() : 0) + 4L * finalNorm.length;
        for (int l = 0; l < layers.length; l++) {
            Layer w = layers[l];
            rest += w.wq().bytes() + w.wk().bytes() + w.wv().bytes() + w.wo().bytes()
                    + 4L * (w.attnNorm().length + w.ffnNorm().length) + (w.router() != null ? w.router().bytes() : 0);
            boolean sparse = config.architecture().isSparseLayer(l);
            for (int e = 0; e < w.w1().length; e++) {
                long expert = w.w1()[e].bytes() + w.w2()[e].bytes();
                if (!sparse) {
                    rest += expert;
                    continue;
                }
                for (Backend b : placement.replicas(l, e)) {
                    bytes.merge(b.device(), expert, Long::sum);
                }
            }
        }
        bytes.merge(mainDevice, rest, Long::sum);
        return bytes;
    }

    /** The fixed routing table of a Hash Layers model; null for other architectures. */
    public HashRouting hashRouting() {
        return hash;
    }
}
