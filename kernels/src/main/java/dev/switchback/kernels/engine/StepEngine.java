package dev.switchback.kernels.engine;

import dev.switchback.kernels.kv.BlockPool;
import dev.switchback.kernels.routing.ExpertStats;
import dev.switchback.store.model.ModelConfig;
import java.util.List;

/**
 * What a continuous-batching scheduler drives: sequences whose keys and values live in one {@link BlockPool},
 * extended by batched forward steps (prompt chunks and single decoded tokens mixed) that return each step's
 * next-token logits. The native {@link Engine} is one; the server's ONNX Runtime engine is another, so admission,
 * preemption and prefix caching work the same over both.
 */
public interface StepEngine extends AutoCloseable {
    ModelConfig config();

    /** The engine's sequences and their KV blocks. */
    KvSequences sequences();

    /** The KV blocks sequences draw from. */
    default BlockPool kvPool() {
        return sequences().pool();
    }

    /** A new, empty sequence. */
    default Sequence newSequence() {
        return sequences().newSequence();
    }

    /** A sequence starting with {@code prefix} cached in {@code blocks} (see {@link KvSequences#newSequence(int[], int[])}). */
    default Sequence newSequence(int[] prefix, int[] blocks) {
        return sequences().newSequence(prefix, blocks);
    }

    /**
     * Appends each step's tokens to its sequence and returns the logits of the token following each step.
     *
     * @throws ContextLengthException when a sequence would pass the context length (nothing is changed)
     * @throws dev.switchback.kernels.kv.KvCacheFullException when the KV pool runs out (nothing is changed)
     */
    float[][] forward(List<Engine.Step> steps);

    /**
     * {@link #forward}, except that the caller needs only the greedy next token (the first index of the largest logit)
     * of each row marked in {@code greedy}. An engine that picks tokens where it computes them (a GPU) writes those
     * rows' tokens into {@code tokens} and returns null for their logits, so they never cross to the host; rows not
     * marked get their logits as from {@link #forward}. This default computes and returns every row's logits and
     * writes no token: a caller checks each row for null.
     */
    default float[][] forward(List<Engine.Step> steps, boolean[] greedy, int[] tokens) {
        return forward(steps);
    }

    /** Refuses greedy marks that are not one per step, or a token array too short for the steps. */
    static void checkPicks(List<Engine.Step> steps, boolean[] greedy, int[] tokens) {
        if (greedy.length != steps.size() || tokens.length < steps.size()) {
            throw new IllegalArgumentException(steps.size() + " steps but " + greedy.length + " greedy marks and room for "
                    + tokens.length + " tokens");
        }
    }

    /**
     * A step started by {@link #launch}. Until {@link #await} returns, the caller makes no other call on the engine.
     */
    interface Launched {
        /** Waits for the step; returns what {@link #forward(List, boolean[], int[])} would (call once). */
        float[][] await();

        /** Whether the step may still be computing elsewhere (on a GPU), so that work done before await overlaps it. */
        default boolean running() {
            return false;
        }
    }

    /**
     * Starts {@link #forward(List, boolean[], int[])}: an engine that computes elsewhere (a GPU) returns once the step
     * is queued there; this default computes it here before returning. Errors of the call's inputs (context, KV
     * blocks) are thrown here, the step's own from {@link Launched#await}.
     */
    default Launched launch(List<Engine.Step> steps, boolean[] greedy, int[] tokens) {
        float[][] out = forward(steps, greedy, tokens);
        return () -> out;
    }

    /** Runs a whole prompt through a fresh sequence; returns the next-token logits. */
    default float[] prefill(Sequence sequence, int[] tokens) {
        return forward(List.of(new Engine.Step(sequence, tokens)))[0];
    }

    /**
     * The caller turns to other work for a while (sampling, streaming to clients): threads the engine keeps spinning
     * between back-to-back calls may rest and leave the cores to it.
     */
    default void pause() {}

    /**
     * Where expert {@code expert} of layer {@code layer} computes, as a metrics label: {@code cpu}, {@code cuda:0},
     * or the devices of its replicas joined by {@code +}.
     */
    default String expertDevice(int layer, int expert) {
        return "cpu";
    }

    /**
     * Bytes this engine holds on each device it uses: its weights, and on a GPU everything it allocated there (KV
     * cache and work buffers too). Empty where the engine cannot tell.
     */
    default java.util.Map<String, Long> deviceBytes() {
        return java.util.Map.of();
    }

    /** Per-expert routing counters (all zero for a model without experts). */
    ExpertStats expertStats();

    /** Releases what the engine holds outside the Java heap (nothing, for the native engine). */
    @Override
    default void close() {}
}
