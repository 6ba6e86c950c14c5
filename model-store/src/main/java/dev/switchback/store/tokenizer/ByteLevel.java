package dev.switchback.store.tokenizer;

import java.util.regex.Pattern;

/**
 * GPT-2's byte-level scheme as Hugging Face {@code tokenizers} implements it: the pre-tokenization regex, and the
 * byte ↔ printable-character table that lets every byte sequence be written as a vocabulary string.
 */
final class ByteLevel {
    private ByteLevel() {}

    /**
     * GPT-2's split: contractions, optional space + letters, optional space + digits, optional space + other
     * symbols, then whitespace (a run before a word keeps its last space for that word). Unicode-aware {@code \s}
     * matches the White_Space set that Oniguruma (used by {@code tokenizers}) and Python's {@code regex} use.
     */
    static final Pattern PRE_TOKENIZER = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
            Pattern.UNICODE_CHARACTER_CLASS);

    /** Byte value → the character that stands for it in vocabulary strings. */
    private static final char[] BYTE_TO_CHAR = new char[256];
    /** Character → byte value, or -1 for characters outside the 256-character alphabet. */
    private static final int[] CHAR_TO_BYTE = new int[512];

    static {
        java.util.Arrays.fill(CHAR_TO_BYTE, -1);
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            // Printable Latin-1 bytes stand for themselves; the rest are shifted above U+00FF, in byte order.
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) (256 + extra++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    static char charOf(int unsignedByte) {
        return BYTE_TO_CHAR[unsignedByte];
    }

    /** The byte a vocabulary character stands for, or -1 if it is not one of the 256. */
    static int byteOf(char c) {
        return c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    }

    /** Vocabulary string for raw bytes. */
    static String toVocabString(byte[] bytes) {
        char[] chars = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            chars[i] = BYTE_TO_CHAR[bytes[i] & 0xFF];
        }
        return new String(chars);
    }

    /** Bytes of a vocabulary string, or null if it holds a character outside the byte alphabet. */
    static byte[] fromVocabString(String token) {
        byte[] bytes = new byte[token.length()];
        for (int i = 0; i < bytes.length; i++) {
            int b = byteOf(token.charAt(i));
            if (b < 0) {
                return null;
            }
            bytes[i] = (byte) b;
        }
        return bytes;
    }

    /**
     * Replaces unpaired surrogates with U+FFFD, the character a UTF-8 encoder must produce for them; Java's
     * {@code getBytes(UTF_8)} would write {@code '?'} instead, which is not what any other tokenizer does.
     */
    static String replaceLoneSurrogates(String s) {
        int n = s.length();
        int i = 0;
        while (i < n) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                i += 2;
            } else if (Character.isSurrogate(c)) {
                break;
            } else {
                i++;
            }
        }
        if (i == n) {
            return s;
        }
        StringBuilder out = new StringBuilder(n).append(s, 0, i);
        while (i < n) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                out.append(c).append(s.charAt(i + 1));
                i += 2;
            } else {
                out.append(Character.isSurrogate(c) ? '\uFFFD' : c);
                i++;
            }
        }
        return out.toString();
    }
}
