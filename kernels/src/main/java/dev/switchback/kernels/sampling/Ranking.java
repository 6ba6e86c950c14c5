package dev.switchback.kernels.sampling;

/**
 * The one order that greedy, top-k and top-p agree on: higher logit first, equal logits by lower token id.
 *
 * <p>A token is ranked by a single long key (logit bits above, inverted id below), so heaps compare longs
 * without reaching back into the logits. Heaps let top-k and top-p order only the few tokens they need.
 */
final class Ranking {
    private Ranking() {}

    /** A key that is larger for a better-ranked token. */
    static long key(float logit, int token) {
        // Adding +0 turns -0 into +0, which float comparison treats as equal. Flipping the magnitude bits of
        // negative floats makes their bits order as their values do.
        int bits = Float.floatToRawIntBits(logit + 0.0f);
        int ordered = bits ^ ((bits >> 31) & 0x7fffffff);
        return ((long) ordered << 32) | (Integer.MAX_VALUE - token);
    }

    static int token(long key) {
        return Integer.MAX_VALUE - (int) key;
    }

    /** Writes the keys of the {@code k} best of tokens {@code 0..n-1} into {@code out[0..k)}, best first. */
    static void topK(float[] x, int n, int k, long[] out) {
        for (int i = 0; i < k; i++) {
            out[i] = key(x[i], i);
        }
        heapify(out, k, false);
        // The root is the worst token kept. A later token displaces it only when its logit is strictly greater:
        // on a tie the root has the lower id and ranks first. So the scan is one float comparison per token.
        float worst = x[token(out[0])];
        for (int i = k; i < n; i++) {
            if (x[i] > worst) {
                out[0] = key(x[i], i);
                siftDown(out, k, 0, false);
                worst = x[token(out[0])];
            }
        }
        // Heap sort: each pass moves the worst remaining key to the end, which leaves the best first.
        for (int size = k - 1; size > 0; size--) {
            long root = out[0];
            out[0] = out[size];
            out[size] = root;
            siftDown(out, size, 0, false);
        }
    }

    /** Arranges {@code keys[0..size)} as a heap with the best token at the root. */
    static void heapifyBest(long[] keys, int size) {
        heapify(keys, size, true);
    }

    /** Removes and returns the best key of the heap {@code keys[0..size)}, which then spans {@code keys[0..size-1)}. */
    static long pollBest(long[] keys, int size) {
        long best = keys[0];
        keys[0] = keys[size - 1];
        siftDown(keys, size - 1, 0, true);
        return best;
    }

    private static void heapify(long[] heap, int size, boolean bestOnTop) {
        for (int i = size / 2 - 1; i >= 0; i--) {
            siftDown(heap, size, i, bestOnTop);
        }
    }

    private static void siftDown(long[] heap, int size, int i, boolean bestOnTop) {
        long key = heap[i];
        for (int child = 2 * i + 1; child < size; child = 2 * i + 1) {
            if (child + 1 < size && above(heap[child + 1], heap[child], bestOnTop)) {
                child++;
            }
            if (!above(heap[child], key, bestOnTop)) {
                break;
            }
            heap[i] = heap[child];
            i = child;
        }
        heap[i] = key;
    }

    private static boolean above(long a, long b, boolean bestOnTop) {
        return bestOnTop ? a > b : a < b;
    }
}
