package dev.switchback.server.onnx;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.switchback.kernels.engine.Engine;
import dev.switchback.kernels.engine.KvSequences;
import dev.switchback.kernels.engine.Sequence;
import dev.switchback.kernels.engine.StepEngine;
import dev.switchback.kernels.kv.BlockPool;
import dev.switchback.kernels.routing.ExpertStats;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.onnx.OnnxExport;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A dense model exported to ONNX ({@link OnnxExport}), run by ONNX Runtime on the CPU behind the same
 * {@link StepEngine} seam as the native engine.
 *
 * <p>Keys and values live in the same paged {@link BlockPool} as the native engine's, so admission, preemption and
 * prefix caching are the scheduler's as for the native engine; each sequence also keeps them in the layout of
 * {@code past_key_values} ({@link PastMirror}), from which a step copies its sequences into padded batch tensors
 * (pasts left-padded, new tokens right-padded, the attention mask marking what is real); the new rows of
 * {@code present} go to both. Decoding sequences (one token each)
 * run as one batch, prompt chunks as another, so a long chunk does not pad every decode row to its length.
 */
public final class OnnxEngine implements StepEngine {
    private final OrtEnvironment env;
    private final OrtSession session;
    private final ModelConfig config;
    private final KvSequences sequences;
    private final ExpertStats stats;
    private final int layers;
    private final int heads;
    private final int headSize;
    private final DirectBuffers buffers = new DirectBuffers();
    // Sequences are compared by identity.
    private final Map<Sequence, PastMirror> mirrorBySequence = new IdentityHashMap<>();

    private OnnxEngine(OrtEnvironment env, OrtSession session, ModelConfig config, Engine.Options options) {
        this.env = env;
        this.session = session;
        this.config = config;
        this.layers = config.layers();
        this.heads = config.heads();
        this.headSize = config.headSize();
        this.sequences = new KvSequences(KvSequences.pool(config, options, layers), config);
        this.stats = new ExpertStats(layers, 0);
    }

    /** Opens the {@code model.onnx} of an ONNX export in the store. */
    public static OnnxEngine load(OpenedModel model, Engine.Options options, int threads) {
        if (!model.onnxExport()) {
            throw new IllegalArgumentException(model.manifest().name() + " is not an ONNX export (no \"engine\": \"onnx\" in its model.json)");
        }
        return open(model.onnxFile(), model.config(), options, threads);
    }

    /**
     * Opens an exported graph of a model with {@code config}, ONNX Runtime using {@code threads} threads inside
     * each operator (workers that park, not spin, when idle) and none between operators (the graph is a chain).
     *
     * @throws IllegalArgumentException when ONNX Runtime cannot load the file or its inputs are not the export's
     */
    public static OnnxEngine open(Path onnxFile, ModelConfig config, Engine.Options options, int threads) {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        OrtSession session;
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
            so.setIntraOpNumThreads(threads);
            so.setInterOpNumThreads(1);
            so.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
            so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            // Idle workers park instead of spinning: the cores are shared with the native engine, other models'
            // schedulers and the HTTP threads, and spinning workers of a busy machine slow every step several-fold.
            so.addConfigEntry("session.intra_op.allow_spinning", "0");
            session = env.createSession(onnxFile.toString(), so);
        } catch (OrtException e) {
            throw new IllegalArgumentException("ONNX Runtime cannot load " + onnxFile + ": " + e.getMessage(), e);
        }
        try {
            checkSignature(session, config, onnxFile);
        } catch (RuntimeException e) {
            closeQuietly(session);
            throw e;
        }
        return new OnnxEngine(env, session, config, options);
    }

    private static void checkSignature(OrtSession session, ModelConfig config, Path file) {
        Set<String> expected = new TreeSet<>(List.of(OnnxExport.INPUT_IDS, OnnxExport.ATTENTION_MASK, OnnxExport.POSITION_IDS));
        for (int l = 0; l < config.layers(); l++) {
            expected.add(OnnxExport.pastKey(l));
            expected.add(OnnxExport.pastValue(l));
        }
        Map<String, NodeInfo> inputs;
        try {
            inputs = session.getInputInfo();
        } catch (OrtException e) {
            throw new IllegalArgumentException("cannot read the inputs of " + file + ": " + e.getMessage(), e);
        }
        if (!inputs.keySet().equals(expected)) {
            Set<String> missing = new TreeSet<>(expected);
            missing.removeAll(inputs.keySet());
            Set<String> unexpected = new TreeSet<>(inputs.keySet());
            unexpected.removeAll(expected);
            throw new IllegalArgumentException(file + " is not a switchback export of this " + config.layers()
                    + "-layer model: missing inputs " + missing + ", unexpected inputs " + unexpected);
        }
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    @Override
    public KvSequences sequences() {
        return sequences;
    }

    @Override
    public ExpertStats expertStats() {
        return stats;
    }

    @Override
    public float[][] forward(List<Engine.Step> steps) {
        if (steps.isEmpty()) {
            return new float[0][];
        }
        sequences.begin(steps);
        // A sequence of length 0 was closed (or never ran): its mirror goes.
        mirrorBySequence.keySet().removeIf(s -> s.length() == 0);
        List<Integer> decode = new ArrayList<>();
        List<Integer> chunks = new ArrayList<>();
        for (int i = 0; i < steps.size(); i++) {
            (steps.get(i).tokens().length == 1 ? decode : chunks).add(i);
        }
        float[][] logits = new float[steps.size()][];
        try {
            run(steps, decode, logits);
            run(steps, chunks, logits);
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime failed on a batch of " + steps.size() + " sequence(s): " + e.getMessage(), e);
        }
        sequences.commit(steps);
        return logits;
    }

    /** One ONNX Runtime call over the steps at {@code rows}; fills their logits and caches their new keys and values. */
    private void run(List<Engine.Step> steps, List<Integer> rows, float[][] logits) throws OrtException {
        if (rows.isEmpty()) {
            return;
        }
        int batch = rows.size();
        int past = 0;
        int fresh = 0;
        for (int r : rows) {
            past = Math.max(past, steps.get(r).sequence().length());
            fresh = Math.max(fresh, steps.get(r).tokens().length);
        }
        int total = past + fresh;
        PastMirror[] mirrors = new PastMirror[batch];
        for (int b = 0; b < batch; b++) {
            Engine.Step s = steps.get(rows.get(b));
            mirrors[b] = mirrorBySequence.computeIfAbsent(s.sequence(),
                    k -> new PastMirror(layers, heads, headSize, config.contextLength()));
            mirrors[b].sync(s.sequence().cache(), s.tokens().length);
        }
        Map<String, OnnxTensor> inputs = new LinkedHashMap<>();
        Map<String, OnnxValue> outputs = new LinkedHashMap<>();
        try {
            putTokens(steps, rows, past, fresh, inputs);
            long[] pastShape = {batch, heads, past, headSize};
            long[] presentShape = {batch, heads, total, headSize};
            float[] zeros = new float[past * headSize];
            for (int l = 0; l < layers; l++) {
                var keys = buffers.floats(OnnxExport.pastKey(l), batch * heads * past * headSize);
                var values = buffers.floats(OnnxExport.pastValue(l), batch * heads * past * headSize);
                for (int b = 0; b < batch; b++) {
                    mirrors[b].copyTo(l, b, past, keys, values, zeros);
                }
                inputs.put(OnnxExport.pastKey(l), OnnxTensor.createTensor(env, keys, pastShape));
                inputs.put(OnnxExport.pastValue(l), OnnxTensor.createTensor(env, values, pastShape));
                int presentCount = batch * heads * total * headSize;
                outputs.put(OnnxExport.presentKey(l),
                        OnnxTensor.createTensor(env, buffers.floats(OnnxExport.presentKey(l), presentCount), presentShape));
                outputs.put(OnnxExport.presentValue(l),
                        OnnxTensor.createTensor(env, buffers.floats(OnnxExport.presentValue(l), presentCount), presentShape));
            }
            var logitsOut = buffers.floats(OnnxExport.LOGITS, batch * fresh * config.vocabSize());
            outputs.put(OnnxExport.LOGITS, OnnxTensor.createTensor(env, logitsOut, new long[] {batch, fresh, config.vocabSize()}));
            // The outputs are pinned to our buffers: ONNX Runtime writes straight into them.
            session.run(inputs, outputs).close();
            int vocab = config.vocabSize();
            for (int b = 0; b < batch; b++) {
                Engine.Step s = steps.get(rows.get(b));
                float[] row = new float[vocab];
                logitsOut.get((b * fresh + s.tokens().length - 1) * vocab, row);
                logits[rows.get(b)] = row;
            }
            storePresent(steps, rows, past, mirrors);
        } finally {
            inputs.values().forEach(OnnxTensor::close);
            outputs.values().forEach(OnnxValue::close);
        }
    }

    /**
     * {@code input_ids} and {@code position_ids} [batch, fresh] (new tokens right-padded) and {@code attention_mask}
     * [batch, past + fresh] (1 on each row's right-aligned past and its new tokens).
     */
    private void putTokens(List<Engine.Step> steps, List<Integer> rows, int past, int fresh, Map<String, OnnxTensor> inputs)
            throws OrtException {
        int batch = rows.size();
        int total = past + fresh;
        var ids = buffers.longs(OnnxExport.INPUT_IDS, batch * fresh);
        var positions = buffers.longs(OnnxExport.POSITION_IDS, batch * fresh);
        var mask = buffers.longs(OnnxExport.ATTENTION_MASK, batch * total);
        for (int b = 0; b < batch; b++) {
            Engine.Step s = steps.get(rows.get(b));
            int length = s.sequence().length();
            int[] tokens = s.tokens();
            for (int i = 0; i < fresh; i++) {
                ids.put(b * fresh + i, i < tokens.length ? tokens[i] : 0);
                positions.put(b * fresh + i, i < tokens.length ? length + i : 0);
            }
            for (int j = 0; j < total; j++) {
                boolean real = j >= past - length && j < past + tokens.length;
                mask.put(b * total + j, real ? 1 : 0);
            }
        }
        long[] idsShape = {batch, fresh};
        inputs.put(OnnxExport.INPUT_IDS, OnnxTensor.createTensor(env, ids, idsShape));
        inputs.put(OnnxExport.POSITION_IDS, OnnxTensor.createTensor(env, positions, idsShape));
        inputs.put(OnnxExport.ATTENTION_MASK, OnnxTensor.createTensor(env, mask, new long[] {batch, total}));
    }

    /** Writes each row's new keys and values from the {@code present} outputs into its mirror and its pool blocks. */
    private void storePresent(List<Engine.Step> steps, List<Integer> rows, int past, PastMirror[] mirrors) {
        int batch = rows.size();
        int fresh = 0;
        for (int r : rows) {
            fresh = Math.max(fresh, steps.get(r).tokens().length);
        }
        int total = past + fresh;
        float[] keyRow = new float[config.dModel()];
        float[] valueRow = new float[config.dModel()];
        for (int l = 0; l < layers; l++) {
            var keys = buffers.floats(OnnxExport.presentKey(l), batch * heads * total * headSize);
            var values = buffers.floats(OnnxExport.presentValue(l), batch * heads * total * headSize);
            for (int b = 0; b < batch; b++) {
                Engine.Step s = steps.get(rows.get(b));
                int length = s.sequence().length();
                for (int i = 0; i < s.tokens().length; i++) {
                    mirrors[b].put(l, i, b, past + i, total, keys, values, keyRow, valueRow);
                    s.sequence().cache().write(l, length + i, keyRow, 0, valueRow, 0);
                }
            }
        }
        for (int b = 0; b < batch; b++) {
            mirrors[b].advance(steps.get(rows.get(b)).tokens().length);
        }
    }

    /** Closes the ONNX Runtime session. */
    @Override
    public void close() {
        closeQuietly(session);
    }

    private static void closeQuietly(OrtSession session) {
        try {
            session.close();
        } catch (OrtException e) {
            System.getLogger(OnnxEngine.class.getName()).log(System.Logger.Level.WARNING, "closing an ONNX Runtime session failed", e);
        }
    }
}
