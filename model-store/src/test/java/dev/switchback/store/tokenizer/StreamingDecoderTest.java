package dev.switchback.store.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class StreamingDecoderTest {
    /** No merges: every token is one byte, so every multi-byte character is split across tokens. */
    private static final BpeTokenizer BYTES = BpeTokenizer.train(List.of("x"), 257, List.of(), null);

    @Test
    void holdsBackACharacterUntilItsLastByte() {
        StreamingDecoder stream = new StreamingDecoder(BYTES);
        int[] ids = BYTES.encode("a😀b");
        assertEquals(6, ids.length);
        assertEquals("a", stream.accept(ids[0]));
        assertEquals("", stream.accept(ids[1]));
        assertEquals("", stream.accept(ids[2]));
        assertEquals("", stream.accept(ids[3]));
        assertEquals(3, stream.pendingBytes());
        assertEquals("😀", stream.accept(ids[4]));
        assertEquals("b", stream.accept(ids[5]));
        assertEquals("", stream.finish());
    }

    @Test
    void anUnfinishedCharacterAtTheEndBecomesAReplacementCharacter() {
        StreamingDecoder stream = new StreamingDecoder(BYTES);
        int[] ids = BYTES.encode("é");
        assertEquals("", stream.accept(ids[0]));
        assertEquals("\uFFFD", stream.finish());
    }

    @Test
    void piecesConcatenateToTheWholeDecodeEvenForInvalidBytes() {
        Random random = new Random(5);
        for (int trial = 0; trial < 20_000; trial++) {
            int[] ids = new int[random.nextInt(12)];
            for (int i = 0; i < ids.length; i++) {
                // Mostly bytes that start or continue multi-byte sequences, to hit every malformed shape.
                int b = random.nextInt(4) == 0 ? random.nextInt(256) : 0x80 + random.nextInt(0x80);
                ids[i] = byteToken(b);
            }
            StreamingDecoder stream = new StreamingDecoder(BYTES);
            StringBuilder streamed = new StringBuilder();
            for (int id : ids) {
                streamed.append(stream.accept(id));
            }
            streamed.append(stream.finish());
            assertEquals(BYTES.decode(ids), streamed.toString());
        }
    }

    @Test
    void streamsRealTokensOfATrainedTokenizer() {
        BpeTokenizer t = BpeTokenizer.train(List.of("héllo wörld 日本語 😀😀", "日本 😀"), 300, List.of(), null);
        Random random = new Random(8);
        for (int trial = 0; trial < 500; trial++) {
            String text = BpeTokenizerTest.randomText(random, 30, false);
            StreamingDecoder stream = new StreamingDecoder(t);
            StringBuilder streamed = new StringBuilder();
            for (int id : t.encode(text)) {
                String piece = stream.accept(id);
                // Never a broken character mid-stream.
                assertTrue(!piece.contains("\uFFFD") || text.contains("\uFFFD"), piece);
                streamed.append(piece);
            }
            assertEquals(0, stream.pendingBytes());
            assertEquals(text, streamed.append(stream.finish()).toString());
        }
    }

    private static int byteToken(int b) {
        for (int id = 0; id < BYTES.vocabSize(); id++) {
            byte[] bytes = BYTES.bytesOf(id);
            if (bytes.length == 1 && (bytes[0] & 0xFF) == b) {
                return id;
            }
        }
        throw new AssertionError("no token for byte " + b);
    }
}
