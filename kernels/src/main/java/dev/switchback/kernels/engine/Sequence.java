package dev.switchback.kernels.engine;

import dev.switchback.kernels.kv.SequenceCache;
import java.util.Arrays;

/** One sequence being decoded: the tokens already in its KV cache, and the cache itself. */
public final class Sequence implements AutoCloseable {
    private final SequenceCache cache;
    private int[] tokens = new int[64];
    private int length;

    Sequence(SequenceCache cache) {
        this.cache = cache;
    }

    /** Tokens processed so far (their keys and values are cached). */
    public int length() {
        return length;
    }

    /** A copy of the processed tokens. */
    public int[] tokens() {
        return Arrays.copyOf(tokens, length);
    }

    public SequenceCache cache() {
        return cache;
    }

    /** The token before position {@code position}, 0 at the start (as the Hash Layers' bigram rule reads it). */
    int previous(int position, int[] pending, int pendingOffset) {
        if (position == 0) {
            return 0;
        }
        int p = position - 1;
        return p < length ? tokens[p] : pending[p - length + pendingOffset];
    }

    /** Starts on cached blocks holding the keys and values of {@code prefix} (see {@link Engine#newSequence(int[], int[])}). */
    void adopt(int[] prefix, int[] blocks) {
        cache.adopt(blocks, prefix.length);
        tokens = Arrays.copyOf(prefix, Math.max(64, prefix.length * 2));
        length = prefix.length;
    }

    void append(int[] more) {
        if (length + more.length > tokens.length) {
            tokens = Arrays.copyOf(tokens, Math.max(tokens.length * 2, length + more.length));
        }
        System.arraycopy(more, 0, tokens, length, more.length);
        length += more.length;
        cache.setLength(length);
    }

    /** Frees the KV blocks; the sequence can no longer be decoded. */
    @Override
    public void close() {
        cache.close();
        length = 0;
    }
}
