package dev.switchback.store.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * Turns generated token ids, fed one at a time, into text as soon as it is complete UTF-8: a character split
 * across tokens is held back until its last byte arrives. The pieces returned by {@link #accept} and
 * {@link #finish} concatenate to {@code tokenizer.decode(allIds)}. Not thread-safe: one per generation stream.
 */
public final class StreamingDecoder {
    private final BpeTokenizer tokenizer;
    private byte[] pending = new byte[16];
    private int pendingLength;

    public StreamingDecoder(BpeTokenizer tokenizer) {
        this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
    }

    /** Adds one token and returns the text it completes, possibly empty. */
    public String accept(int tokenId) {
        byte[] bytes = tokenizer.bytesOf(tokenId);
        if (pendingLength + bytes.length > pending.length) {
            pending = Arrays.copyOf(pending, Math.max(pending.length * 2, pendingLength + bytes.length));
        }
        System.arraycopy(bytes, 0, pending, pendingLength, bytes.length);
        pendingLength += bytes.length;
        int complete = completeLength(pending, pendingLength);
        return take(complete);
    }

    /** Ends the stream: returns what is held back, an unfinished character decoding to U+FFFD. */
    public String finish() {
        return take(pendingLength);
    }

    /** Bytes held back, waiting for the rest of a character. */
    public int pendingBytes() {
        return pendingLength;
    }

    private String take(int length) {
        if (length == 0) {
            return "";
        }
        String text = new String(pending, 0, length, StandardCharsets.UTF_8);
        System.arraycopy(pending, length, pending, 0, pendingLength - length);
        pendingLength -= length;
        return text;
    }

    /**
     * Length of the prefix that can be decoded now: everything but a trailing lead byte whose continuation bytes
     * have not all arrived yet. A held-back sequence is judged only by its lead byte: whether it is valid is left
     * to the decoder once it is complete, so that streaming replaces malformed bytes exactly as decoding all at
     * once does.
     */
    static int completeLength(byte[] bytes, int length) {
        for (int back = 1; back <= Math.min(3, length); back++) {
            int b = bytes[length - back] & 0xFF;
            if ((b & 0xC0) == 0x80) {
                continue; // a continuation byte: look further back for its lead
            }
            int needed = b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 1;
            return needed > back ? length - back : length;
        }
        return length;
    }
}
