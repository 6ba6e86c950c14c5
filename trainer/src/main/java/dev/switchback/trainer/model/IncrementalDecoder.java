package dev.switchback.trainer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import dev.switchback.store.TensorNames;
import dev.switchback.store.model.ModelConfig;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Decodes a batch of sequences through a {@link Gpt} with a KV cache: each call appends new tokens and runs the
 * model over those positions only, attending to the cached keys and values of every (Ladder pass, layer). Sparse
 * layers route the call's tokens together with the eval capacity factor; hash layers route by token id, a bigram
 * table seeing each sequence's previous token across calls. The DJL/PyTorch peer of the native engine's decoder:
 * inference only, on detached views of the model's parameters (shared storage, no gradients).
 */
public final class IncrementalDecoder implements AutoCloseable {
    private final Gpt model;
    private final int batch;
    private final NDManager manager;
    private final Map<String, NDArray> weights = new LinkedHashMap<>();
    private final LadderStack stack;
    private final KvCache cache;
    private final HashRouter hashRouter;
    private final int[] previous;

    /** A decoder of {@code batch} sequences, each up to the model's context length. */
    public IncrementalDecoder(Gpt model, int batch) {
        if (batch < 1) {
            throw new IllegalArgumentException("batch must be >= 1, got " + batch);
        }
        ModelConfig c = model.config();
        this.model = model;
        this.batch = batch;
        this.manager = model.parameters().manager().newSubManager();
        for (var e : model.parameters().all().entrySet()) {
            NDArray view = e.getValue().stopGradient();
            view.attach(manager);
            weights.put(e.getKey(), view);
        }
        this.stack = model.stack(weights::get);
        this.cache = new KvCache(manager, batch, c.architecture().passes(), c.layers(), c.heads(), c.headSize(),
                c.contextLength(), model.rotary());
        this.hashRouter = model.hashRouting() == null ? null : new HashRouter(model.hashRouting());
        this.previous = new int[batch];
    }

    /**
     * Appends {@code chunk[b]} to sequence b (the same number of tokens, at least one, for every sequence) and
     * returns the next-token logits after its last token, [batch][vocab].
     *
     * @throws IllegalArgumentException if the chunk is malformed or would exceed the context length; the
     *     sequences are then left as they were
     */
    public float[][] forward(int[][] chunk) {
        int length = checkChunk(chunk);
        float[] flat;
        try (NDManager step = manager.newSubManager()) {
            // Results land in the manager of an operation's first operand, often a weight: keep them in the step.
            for (NDArray w : weights.values()) {
                w.tempAttach(step);
            }
            cache.begin(length, step);
            ForwardPass pass = new ForwardPass(step, false, () -> hashRouter.route(chunk, previous), cache);
            NDArray x = weights.get(TensorNames.TOK_EMB).get(Host.ints(step, chunk));
            x = stack.forward(x, pass);
            NDArray last = x.get(new NDIndex(":, {}, :", length - 1));
            flat = model.logits(last, weights::get).toFloatArray();
            cache.commit();
        }
        int vocab = flat.length / batch;
        float[][] out = new float[batch][];
        for (int b = 0; b < batch; b++) {
            previous[b] = chunk[b][length - 1];
            out[b] = Arrays.copyOfRange(flat, b * vocab, (b + 1) * vocab);
        }
        return out;
    }

    /** Tokens appended to each sequence so far. */
    public int position() {
        return cache.position();
    }

    /** Starts every sequence afresh; the cache's memory is kept. */
    public void reset() {
        cache.reset();
        Arrays.fill(previous, 0);
    }

    @Override
    public void close() {
        manager.close();
    }

    private int checkChunk(int[][] chunk) {
        if (chunk == null || chunk.length != batch) {
            throw new IllegalArgumentException("chunk must hold one row per sequence: expected " + batch + ", got "
                    + (chunk == null ? "null" : chunk.length));
        }
        int length = chunk[0].length;
        if (length < 1) {
            throw new IllegalArgumentException("chunk rows must hold at least one token");
        }
        int vocab = model.config().vocabSize();
        for (int b = 0; b < batch; b++) {
            if (chunk[b].length != length) {
                throw new IllegalArgumentException("chunk rows must have equal lengths: row 0 has " + length + ", row " + b
                        + " has " + chunk[b].length);
            }
            for (int id : chunk[b]) {
                if (id < 0 || id >= vocab) {
                    throw new IllegalArgumentException("token id " + id + " in row " + b + " is outside [0, " + vocab + ")");
                }
            }
        }
        return length;
    }

    /**
     * Greedy decoding speed: generated tokens per second over all {@code batch} sequences, after a random prompt of
     * {@code promptLen} tokens (prefill not timed) and {@code warmup} untimed steps.
     */
    public static double decodeTokensPerSecond(Gpt model, int batch, int promptLen, int steps, int warmup) {
        int context = model.config().contextLength();
        if (promptLen < 1 || steps < 1 || warmup < 0 || promptLen + warmup + steps > context) {
            throw new IllegalArgumentException("need promptLen >= 1, steps >= 1, warmup >= 0 and promptLen + warmup + steps"
                    + " <= contextLength " + context + ", got " + promptLen + " + " + warmup + " + " + steps);
        }
        SplittableRandom rng = new SplittableRandom(1);
        int[][] prompt = new int[batch][promptLen];
        for (int[] row : prompt) {
            Arrays.setAll(row, i -> rng.nextInt(model.config().vocabSize()));
        }
        try (IncrementalDecoder decoder = new IncrementalDecoder(model, batch)) {
            int[][] next = greedy(decoder.forward(prompt));
            for (int i = 0; i < warmup; i++) {
                next = greedy(decoder.forward(next));
            }
            long start = System.nanoTime();
            for (int i = 0; i < steps; i++) {
                next = greedy(decoder.forward(next));
            }
            return (double) batch * steps / ((System.nanoTime() - start) / 1e9);
        }
    }

    private static int[][] greedy(float[][] logits) {
        int[][] next = new int[logits.length][1];
        for (int b = 0; b < logits.length; b++) {
            int best = 0;
            for (int v = 1; v < logits[b].length; v++) {
                if (logits[b][v] > logits[b][best]) {
                    best = v;
                }
            }
            next[b][0] = best;
        }
        return next;
    }
}
