package dev.switchback.store.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.switchback.store.corpus.Corpus;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalInt;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BpeTokenizerTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static Corpus excerpt;
    private static BpeTokenizer kjv1024;

    @TempDir
    Path dir;

    @BeforeAll
    static void trainOnExcerpt() throws Exception {
        excerpt = Corpus.load(resource("/kjv-excerpt.txt"));
        kjv1024 = BpeTokenizer.train(excerpt.trainTexts(), 1024, List.of(), null);
    }

    static Path resource(String name) throws URISyntaxException {
        return Path.of(BpeTokenizerTest.class.getResource(name).toURI());
    }

    @Test
    void learnsTheMergesOneCanWorkOutByHand() throws IOException {
        // Words: "low" x2, " low", " lower", " lowest". Pair counts: (l,o)=5, (o,w)=5, (Ġ,l)=3, (w,e)=2, rest 1.
        // (l,o) wins the tie with (o,w) as the smaller id pair, then lo+w, Ġ+low, Ġlow+e; among the pairs counted
        // once, (s,t) has the smallest ids.
        AtomicInteger lastProgress = new AtomicInteger();
        BpeTokenizer t = BpeTokenizer.train(List.of("low lower lowest", "low low"), 262, null, lastProgress::set);

        assertEquals(262, t.vocabSize());
        assertEquals(5, lastProgress.get());
        assertEquals("<|endoftext|>", t.token(0));
        assertEquals("!", t.token(1)); // bytes follow in code-point order of their characters
        assertEquals("Ā", t.token(189)); // byte 0x00
        assertEquals("Ġ", t.token(221)); // byte 0x20, the space
        assertEquals(List.of("lo", "low", "Ġlow", "Ġlowe", "st"),
                List.of(t.token(257), t.token(258), t.token(259), t.token(260), t.token(261)));
        // "lowest" -> low e st ; " low" -> Ġlow
        assertArrayEquals(new int[] {258, 69, 261, 259}, t.encode("lowest low"));
        assertEquals(OptionalInt.of(0), t.specialTokenId(BpeTokenizer.END_OF_TEXT));
        assertEquals(0, t.endOfTextId());

        Path file = dir.resolve("tok/tokenizer.json");
        t.save(file);
        t.save(file); // replaces it, leaving no temporary file behind
        try (var files = Files.list(file.getParent())) {
            assertEquals(List.of(file), files.toList());
        }
        JsonNode root = JSON.readTree(file.toFile());
        assertEquals(List.of("version", "truncation", "padding", "added_tokens", "normalizer", "pre_tokenizer",
                "post_processor", "decoder", "model"), fieldNames(root));
        assertEquals(JSON.readTree("""
                [{"id":0,"content":"<|endoftext|>","single_word":false,"lstrip":false,"rstrip":false,
                  "normalized":false,"special":true}]"""), root.get("added_tokens"));
        assertEquals(JSON.readTree("""
                {"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}"""),
                root.get("pre_tokenizer"));
        assertEquals("ByteLevel", root.get("decoder").get("type").asText());
        assertTrue(root.get("normalizer").isNull() && root.get("post_processor").isNull());
        JsonNode model = root.get("model");
        assertEquals(List.of("type", "dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix",
                "fuse_unk", "byte_fallback", "ignore_merges", "vocab", "merges"), fieldNames(model));
        assertEquals("BPE", model.get("type").asText());
        assertEquals(262, model.get("vocab").size());
        assertEquals(0, model.get("vocab").get("<|endoftext|>").asInt());
        assertEquals(221, model.get("vocab").get("Ġ").asInt());
        assertEquals(260, model.get("vocab").get("Ġlowe").asInt());
        assertEquals(JSON.readTree("""
                [["l","o"],["lo","w"],["Ġ","low"],["Ġlow","e"],["s","t"]]"""), model.get("merges"));

        BpeTokenizer loaded = BpeTokenizer.load(file);
        assertArrayEquals(t.encode("lowest low"), loaded.encode("lowest low"));
    }

    @Test
    void matchesHuggingFaceTokenizers() throws Exception {
        // hf-kjv-400.json: a tokenizer trained here (excerpt, vocab 400, specials <|endoftext|> and <|pad|>),
        // loaded and saved again by Hugging Face tokenizers 0.23.2; the encodings file holds the ids that
        // tokenizers produced for each text (KJV verses, random Unicode, contractions, whitespace, specials).
        Path hfFile = resource("/tokenizer/hf-kjv-400.json");
        BpeTokenizer t = BpeTokenizer.load(hfFile);
        assertEquals(400, t.vocabSize());
        assertEquals(OptionalInt.of(1), t.specialTokenId("<|pad|>"));
        JsonNode cases = JSON.readTree(resource("/tokenizer/hf-kjv-400-encodings.json").toFile());
        assertTrue(cases.size() > 200);
        for (JsonNode c : cases) {
            String text = c.get("text").asText();
            int[] expected = JSON.treeToValue(c.get("ids"), int[].class);
            assertArrayEquals(expected, t.encode(text), () -> "encoding of " + JSON.valueToTree(text));
            assertEquals(text, t.decode(expected));
        }
        // What we write is, as a JSON tree, exactly what tokenizers wrote.
        Path ours = dir.resolve("ours.json");
        t.save(ours);
        assertEquals(JSON.readTree(hfFile.toFile()), JSON.readTree(ours.toFile()));
    }

    @Test
    void savedAndLoadedTokenizerEncodesIdentically() throws IOException {
        Path file = dir.resolve("tokenizer.json");
        kjv1024.save(file);
        BpeTokenizer loaded = BpeTokenizer.load(file);
        assertEquals(kjv1024.vocabSize(), loaded.vocabSize());
        for (String text : excerpt.validationTexts()) {
            assertArrayEquals(kjv1024.encode(text), loaded.encode(text), text);
        }
        Random random = new Random(3);
        for (int i = 0; i < 500; i++) {
            String text = randomText(random, 30, false);
            assertArrayEquals(kjv1024.encode(text), loaded.encode(text));
        }
        for (int id = 0; id < kjv1024.vocabSize(); id++) {
            assertEquals(kjv1024.token(id), loaded.token(id));
        }
    }

    @Test
    void compressesKjvAndRoundTripsEveryValidationVerse() {
        long bytes = 0;
        long tokens = 0;
        for (String verse : excerpt.validationTexts()) {
            int[] ids = kjv1024.encode(verse);
            assertEquals(verse, kjv1024.decode(ids));
            bytes += verse.getBytes(StandardCharsets.UTF_8).length;
            tokens += ids.length;
        }
        double bytesPerToken = bytes / (double) tokens;
        assertTrue(bytesPerToken > 2.5, "bytes/token " + bytesPerToken);
        assertEquals(1024, kjv1024.vocabSize());
    }

    @Test
    void roundTripsAnyValidUnicodeExactly() {
        Random random = new Random(42);
        for (int i = 0; i < 3_000; i++) {
            String text = randomText(random, 60, false);
            int[] ids = kjv1024.encode(text);
            assertEquals(text, kjv1024.decode(ids), () -> "round trip of " + JSON.valueToTree(text));
            assertArrayEquals(text.getBytes(StandardCharsets.UTF_8), kjv1024.decodeBytes(ids));
        }
    }

    @Test
    void loneSurrogatesBecomeReplacementCharacters() {
        assertEquals("a\uFFFDb", kjv1024.decode(kjv1024.encode("a\uD800b")));
        assertEquals("\uFFFD\uFFFD", kjv1024.decode(kjv1024.encode("\uDC00\uD83D")));
        assertEquals("x\uD83D\uDE00\uFFFD", kjv1024.decode(kjv1024.encode("x\uD83D\uDE00\uDE00")));
        Random random = new Random(9);
        for (int i = 0; i < 1_000; i++) {
            String text = randomText(random, 40, true);
            String expected = new String(text.codePoints()
                    .map(cp -> cp >= 0xD800 && cp <= 0xDFFF ? 0xFFFD : cp).toArray(), 0,
                    (int) text.codePoints().count());
            assertEquals(expected, kjv1024.decode(kjv1024.encode(text)));
        }
    }

    @Test
    void specialTokenTextIsTheSpecialTokenUnlessEncodedAsOrdinaryText() {
        int eot = kjv1024.endOfTextId();
        int[] ids = kjv1024.encode("In the beginning<|endoftext|>And God");
        assertEquals(1, Arrays.stream(ids).filter(id -> id == eot).count());
        assertEquals("In the beginning<|endoftext|>And God", kjv1024.decode(ids));
        int[] ordinary = kjv1024.encodeOrdinary("In the beginning<|endoftext|>And God");
        assertFalse(Arrays.stream(ordinary).anyMatch(id -> id == eot));
        assertEquals("In the beginning<|endoftext|>And God", kjv1024.decode(ordinary));
        assertArrayEquals(new int[] {eot, eot}, kjv1024.encode("<|endoftext|><|endoftext|>"));
        assertEquals(OptionalInt.empty(), kjv1024.specialTokenId("<|pad|>"));
    }

    @Test
    void callerSpecialTokensComeFirstInTheirOrder() {
        BpeTokenizer t = BpeTokenizer.train(List.of("abc abc"), 260, List.of("<|pad|>", "<|endoftext|>"), null);
        assertEquals(OptionalInt.of(0), t.specialTokenId("<|pad|>"));
        assertEquals(1, t.endOfTextId());
        assertArrayEquals(new int[] {0}, t.encode("<|pad|>"));
        BpeTokenizer prepended = BpeTokenizer.train(List.of("abc abc"), 260, List.of("<|pad|>"), null);
        assertEquals(0, prepended.endOfTextId());
        assertEquals(OptionalInt.of(1), prepended.specialTokenId("<|pad|>"));
    }

    @Test
    void trainingIsDeterministic() throws IOException {
        BpeTokenizer again = BpeTokenizer.train(excerpt.trainTexts(), 1024, List.of(), null);
        Path first = dir.resolve("first.json");
        Path second = dir.resolve("second.json");
        kjv1024.save(first);
        again.save(second);
        assertEquals(Files.readString(first), Files.readString(second));
    }

    @Test
    void stopsEarlyWhenNoPairIsLeft() {
        BpeTokenizer t = BpeTokenizer.train(List.of("abab"), 5_000, List.of(), null);
        // "abab" -> ab, then abab: two merges and nothing left to merge.
        assertEquals(259, t.vocabSize());
        assertArrayEquals(new int[] {258}, t.encode("abab"));
    }

    @Test
    void longPreTokensEncodeQuicklyAndExactly() {
        String letters = "abcdefghij".repeat(20_000);
        String spaces = " ".repeat(100_000) + "x";
        assertTimeoutPreemptively(Duration.ofSeconds(5), () -> {
            assertEquals(letters, kjv1024.decode(kjv1024.encode(letters)));
            assertEquals(spaces, kjv1024.decode(kjv1024.encode(spaces)));
        });
    }

    @Test
    void rejectsBadArgumentsWithAClearMessage() {
        IllegalArgumentException small = assertThrows(IllegalArgumentException.class,
                () -> BpeTokenizer.train(List.of("a"), 256, List.of(), null));
        assertTrue(small.getMessage().startsWith("vocabSize: must be >= 257"), small.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> BpeTokenizer.train(List.of("a"), 300, List.of("<|x|>", "<|x|>"), null));
        IllegalArgumentException badId = assertThrows(IllegalArgumentException.class,
                () -> kjv1024.decode(new int[] {1, 1024}));
        assertTrue(badId.getMessage().contains("1024"), badId.getMessage());
    }

    @Test
    void loadNamesTheFileAndTheProblem() throws IOException {
        Path missing = dir.resolve("missing.json");
        assertTrue(assertThrows(NoSuchFileException.class, () -> BpeTokenizer.load(missing))
                .getMessage().contains(missing.toString()));

        Path malformed = Files.writeString(dir.resolve("malformed.json"), "{\"model\": {\"type\": \"BPE\",");
        IOException broken = assertThrows(IOException.class, () -> BpeTokenizer.load(malformed));
        assertTrue(broken.getMessage().startsWith(malformed + ": malformed tokenizer JSON"), broken.getMessage());

        Path wordPiece = Files.writeString(dir.resolve("wordpiece.json"),
                "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}");
        IOException unsupported = assertThrows(IOException.class, () -> BpeTokenizer.load(wordPiece));
        assertTrue(unsupported.getMessage().contains(wordPiece.toString())
                && unsupported.getMessage().contains("WordPiece"), unsupported.getMessage());

        Path noBytes = Files.writeString(dir.resolve("nobytes.json"), """
                {"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
                 "model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []}}""");
        IOException notByteLevel = assertThrows(IOException.class, () -> BpeTokenizer.load(noBytes));
        assertTrue(notByteLevel.getMessage().contains("no token for byte"), notByteLevel.getMessage());
    }

    @Test
    void readsMergesWrittenAsStrings() throws IOException {
        Path file = dir.resolve("pairs.json");
        kjv1024.save(file);
        JsonNode root = JSON.readTree(file.toFile());
        var merges = JSON.createArrayNode();
        root.get("model").get("merges").forEach(m -> merges.add(m.get(0).asText() + " " + m.get(1).asText()));
        ((com.fasterxml.jackson.databind.node.ObjectNode) root.get("model")).set("merges", merges);
        Path strings = dir.resolve("strings.json");
        JSON.writeValue(strings.toFile(), root);
        BpeTokenizer loaded = BpeTokenizer.load(strings);
        for (String verse : excerpt.validationTexts()) {
            assertArrayEquals(kjv1024.encode(verse), loaded.encode(verse));
        }
    }

    private static List<String> fieldNames(JsonNode node) {
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }

    /** Random text drawn from ASCII, Latin, combining marks, CJK, emoji, other planes, whitespace and digits. */
    static String randomText(Random random, int maxCodePoints, boolean withLoneSurrogates) {
        int[][] ranges = {
            {0x20, 0x7E}, {0x20, 0x7E}, {'\t', '\r'}, {0xA0, 0x24F}, {0x300, 0x36F}, {0x4E00, 0x9FFF},
            {0x1F300, 0x1FAFF}, {0x10000, 0x10FFFF}, {0x0660, 0x0669}, {0x2000, 0x206F}, {0x3000, 0x303F},
            {'0', '9'}, {0x85, 0x85}, {0xFFF0, 0xFFFF},
        };
        StringBuilder text = new StringBuilder();
        int n = random.nextInt(maxCodePoints + 1);
        for (int i = 0; i < n; i++) {
            if (withLoneSurrogates && random.nextInt(6) == 0) {
                text.append((char) (0xD800 + random.nextInt(0x800)));
                continue;
            }
            int[] range = ranges[random.nextInt(ranges.length)];
            int cp = range[0] + random.nextInt(range[1] - range[0] + 1);
            if (cp >= 0xD800 && cp <= 0xDFFF) {
                cp = 'x';
            }
            text.appendCodePoint(cp);
            if (random.nextInt(10) == 0) {
                text.append(" ".repeat(random.nextInt(4))).append(random.nextBoolean() ? "\n" : "'s");
            }
        }
        return text.toString();
    }
}
