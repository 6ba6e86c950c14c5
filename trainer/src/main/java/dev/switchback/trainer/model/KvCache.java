package dev.switchback.trainer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * The keys and values of the positions decoded so far for B sequences: one pair of [B, heads, contextLength,
 * headSize] arrays per (Ladder pass, layer), allocated once, since every Ladder pass attends over its own hidden
 * states. A chunk of new positions is opened with {@link #begin}, written by each attention layer with
 * {@link #append}, and kept by {@link #commit}; until then the cached length does not move, so a failed chunk
 * leaves the cache as it was.
 *
 * <p>Writing each chunk into the preallocated arrays costs the same as concatenating the chunk onto the cache at
 * batch 1 and less at batch 16, where concatenation copies the whole cache of every layer at every step.
 */
final class KvCache implements AutoCloseable {
    private final NDManager manager;
    private final NDArray[][] keys;
    private final NDArray[][] values;
    private final Rotary.Angles angles;
    private final int contextLength;
    private int position;
    private int chunkLength;
    private Rotary.Angles chunkAngles;
    private NDArray chunkMask;

    /** The keys and values of every cached position plus the chunk's, each [B, heads, position + chunk, headSize]. */
    record Attended(NDArray keys, NDArray values) {}

    KvCache(NDManager parent, int batch, int passes, int layers, int heads, int headSize, int contextLength, Rotary rotary) {
        this.manager = parent.newSubManager();
        this.contextLength = contextLength;
        this.keys = new NDArray[passes][layers];
        this.values = new NDArray[passes][layers];
        Shape shape = new Shape(batch, heads, contextLength, headSize);
        for (int p = 0; p < passes; p++) {
            for (int l = 0; l < layers; l++) {
                keys[p][l] = manager.zeros(shape, DataType.FLOAT32);
                values[p][l] = manager.zeros(shape, DataType.FLOAT32);
            }
        }
        this.angles = rotary.angles(manager, 0, contextLength);
    }

    /** Positions cached so far. */
    int position() {
        return position;
    }

    /**
     * Opens a chunk of {@code length} new positions whose temporaries live in {@code step}: the cache's arrays are
     * attached to it until it closes, so views of them die with the step.
     */
    void begin(int length, NDManager step) {
        if (position + length > contextLength) {
            throw new IllegalArgumentException("context length exceeded: " + position + " positions decoded + " + length
                    + " new > contextLength " + contextLength + " (reset() to start again)");
        }
        for (int p = 0; p < keys.length; p++) {
            for (int l = 0; l < keys[p].length; l++) {
                keys[p][l].tempAttach(step);
                values[p][l].tempAttach(step);
            }
        }
        angles.cos().tempAttach(step);
        angles.sin().tempAttach(step);
        NDIndex rows = new NDIndex().addSliceDim(position, position + length);
        chunkLength = length;
        chunkAngles = new Rotary.Angles(angles.cos().get(rows), angles.sin().get(rows));
        chunkMask = length == 1 ? null : Attention.causalMask(step, length, position);
    }

    /** Rotary angles of the open chunk's positions. */
    Rotary.Angles chunkAngles() {
        return chunkAngles;
    }

    /** The open chunk's causal mask [chunk, position + chunk], or null when one position sees everything cached. */
    NDArray chunkMask() {
        return chunkMask;
    }

    /** Writes the chunk's k and v ([B, heads, chunk, headSize]) for (pass, layer) and returns all positions so far. */
    Attended append(int pass, int layer, NDArray k, NDArray v) {
        NDIndex chunk = new NDIndex().addAllDim(2).addSliceDim(position, position + chunkLength);
        keys[pass][layer].set(chunk, k);
        values[pass][layer].set(chunk, v);
        NDIndex upTo = new NDIndex().addAllDim(2).addSliceDim(0, position + chunkLength);
        return new Attended(keys[pass][layer].get(upTo), values[pass][layer].get(upTo));
    }

    /** Keeps the open chunk: its positions are cached from now on. */
    void commit() {
        position += chunkLength;
        chunkLength = 0;
        chunkAngles = null;
        chunkMask = null;
    }

    /** Forgets every cached position; the arrays are reused. */
    void reset() {
        position = 0;
        chunkLength = 0;
    }

    @Override
    public void close() {
        manager.close();
    }
}
