package dev.switchback.server.onnx;

import dev.switchback.kernels.kv.SequenceCache;
import java.nio.FloatBuffer;

/**
 * One sequence's keys and values laid out as {@code past_key_values} wants them — per layer {@code [heads][positions]
 * [head_dim]} — so a step copies one run per head into the batch's tensor, not one head vector per position. The
 * sequence's blocks in the pool stay the truth (the prefix cache shares them): the mirror catches up from them
 * when it lags, e.g. for a sequence that started on a cached prefix, and is cut back when it is ahead of them.
 */
final class PastMirror {
    private static final int MIN_CAPACITY = 64;

    private final int layers;
    private final int heads;
    private final int headSize;
    private final int maxPositions;
    private float[][] keys;
    private float[][] values;
    private int capacity;
    private int length;

    PastMirror(int layers, int heads, int headSize, int maxPositions) {
        this.layers = layers;
        this.heads = heads;
        this.headSize = headSize;
        this.maxPositions = maxPositions;
        this.keys = new float[layers][0];
        this.values = new float[layers][0];
    }

    /** Makes this hold exactly the positions {@code cache} stores, with room for {@code more} after them. */
    void sync(SequenceCache cache, int more) {
        int stored = cache.length();
        length = Math.min(length, stored);
        grow(stored + more);
        for (int l = 0; l < layers; l++) {
            cache.gatherByHead(l, heads, length, stored, keys[l], values[l], capacity);
        }
        length = stored;
    }

    int length() {
        return length;
    }

    /**
     * Copies layer {@code layer} into row {@code row} of batch tensors {@code [batch, heads, past, head_dim]},
     * right-aligned (left padding zeroed: it is masked, but a stale NaN there would still turn 0·v into NaN).
     */
    void copyTo(int layer, int row, int past, FloatBuffer keysOut, FloatBuffer valuesOut, float[] zeros) {
        int pad = (past - length) * headSize;
        for (int h = 0; h < heads; h++) {
            int at = (row * heads + h) * past * headSize;
            keysOut.put(at, zeros, 0, pad);
            valuesOut.put(at, zeros, 0, pad);
            keysOut.put(at + pad, keys[layer], h * capacity * headSize, length * headSize);
            valuesOut.put(at + pad, values[layer], h * capacity * headSize, length * headSize);
        }
    }

    /**
     * Writes position {@code length() + offset} of layer {@code layer} from batch tensors {@code [batch, heads, total,
     * head_dim]} (row {@code row}, column {@code column}) and returns it as a {@code [heads·head_dim]} key row and
     * value row; {@link #advance} counts the positions once every layer has them.
     */
    void put(int layer, int offset, int row, int column, int total, FloatBuffer keysIn, FloatBuffer valuesIn, float[] keyRow,
            float[] valueRow) {
        for (int h = 0; h < heads; h++) {
            int from = ((row * heads + h) * total + column) * headSize;
            int to = (h * capacity + length + offset) * headSize;
            keysIn.get(from, keys[layer], to, headSize);
            valuesIn.get(from, values[layer], to, headSize);
            System.arraycopy(keys[layer], to, keyRow, h * headSize, headSize);
            System.arraycopy(values[layer], to, valueRow, h * headSize, headSize);
        }
    }

    /** Counts {@code positions} more positions, {@link #put} into every layer. */
    void advance(int positions) {
        length += positions;
    }

    private void grow(int positions) {
        if (positions <= capacity) {
            return;
        }
        int next = Math.min(maxPositions, Math.max(MIN_CAPACITY, Math.max(positions, 2 * capacity)));
        for (int l = 0; l < layers; l++) {
            keys[l] = relayout(keys[l], next);
            values[l] = relayout(values[l], next);
        }
        capacity = next;
    }

    private float[] relayout(float[] old, int next) {
        float[] grown = new float[heads * next * headSize];
        for (int h = 0; h < heads; h++) {
            System.arraycopy(old, h * capacity * headSize, grown, h * next * headSize, length * headSize);
        }
        return grown;
    }
}
