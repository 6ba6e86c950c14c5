package dev.switchback.store.corpus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CorpusTest {
    @TempDir
    Path dir;

    /** The shared KJV corpus, or a skipped test where ../shared is not checked out. */
    static Path sharedKjv() {
        String shared = System.getProperty("switchback.shared");
        Path root = shared != null ? Path.of(shared) : Path.of("../../shared");
        Path kjv = root.resolve("corpus/kjv.txt.gz");
        Assumptions.assumeTrue(Files.isRegularFile(kjv), "no shared corpus at " + kjv.toAbsolutePath());
        return kjv;
    }

    static Path excerpt() {
        try {
            return Path.of(CorpusTest.class.getResource("/kjv-excerpt.txt").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void splitsTheFullKjvByBook() throws Exception {
        Path kjv = sharedKjv();
        Corpus corpus = Corpus.load(kjv);

        assertEquals(66, corpus.books().size());
        assertEquals(List.of("Ge", "Exo"), corpus.books().subList(0, 2));
        assertTrue(corpus.books().contains("1Sm") && corpus.books().contains("SSol"), corpus.books().toString());
        int verses = corpus.trainTexts().size() + corpus.validationTexts().size();
        assertEquals(31_102, verses);
        // Sum over books of ceil(5% of the book's verses): slightly above 5% because of the rounding up.
        assertEquals(1_586, corpus.validationTexts().size());
        double share = corpus.validationTexts().size() / (double) verses;
        assertTrue(share > 0.05 && share < 0.052, "validation share " + share);
        assertEquals("In the beginning God created the heaven and the earth.", corpus.trainTexts().getFirst());
        assertEquals("The grace of our Lord Jesus Christ be with you all. Amen.", corpus.validationTexts().getLast());
        assertEquals(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(kjv))),
                corpus.sha256());
    }

    @Test
    void splitIsDeterministic() throws Exception {
        Path kjv = sharedKjv();
        Corpus first = Corpus.load(kjv);
        Corpus second = Corpus.load(kjv);
        assertEquals(first.trainTexts(), second.trainTexts());
        assertEquals(first.validationTexts(), second.validationTexts());
        assertEquals(first.sha256(), second.sha256());
    }

    @Test
    void lastFivePercentOfEachBookIsValidation() throws Exception {
        // The excerpt: Ge1:1-Ge26:7 (700 verses), then the last 20 verses of Ruth, Psa, Mat and Rev.
        Corpus corpus = Corpus.load(excerpt());
        assertEquals(List.of("Ge", "Ruth", "Psa", "Mat", "Rev"), corpus.books());
        assertEquals(35 + 4, corpus.validationTexts().size());
        assertEquals(780 - 39, corpus.trainTexts().size());

        List<String> lines = Files.readAllLines(excerpt());
        List<String> expectedValidation = new ArrayList<>();
        lines.subList(700 - 35, 700).forEach(l -> expectedValidation.add(l.substring(l.indexOf(' ') + 1)));
        for (int end : new int[] {720, 740, 760, 780}) {
            String last = lines.get(end - 1);
            expectedValidation.add(last.substring(last.indexOf(' ') + 1));
        }
        assertEquals(expectedValidation, corpus.validationTexts());
        assertTrue(corpus.trainTexts().get(664).startsWith("But unto the sons of the concubines"));
    }

    @Test
    void plainTextHoldsOutTheLastFivePercentOfLines() throws IOException {
        Path file = dir.resolve("plain.txt.gz");
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(file))) {
            StringBuilder text = new StringBuilder();
            for (int i = 1; i <= 41; i++) {
                text.append("line number ").append(i).append(i % 10 == 0 ? "\n\n" : "\n");
            }
            out.write(text.toString().getBytes(StandardCharsets.UTF_8));
        }
        Corpus corpus = Corpus.load(file);
        assertEquals(List.of(), corpus.books());
        // ceil(0.05 * 41) = 3; blank lines are not texts.
        assertEquals(List.of("line number 39", "line number 40", "line number 41"), corpus.validationTexts());
        assertEquals(38, corpus.trainTexts().size());
        assertEquals(file, corpus.path());
    }

    @Test
    void referencesAreStrippedAndBooksKeepTheirDigits() throws IOException {
        Path file = Files.writeString(dir.resolve("refs.txt"), "1Sm1:1 Now there was\n1Sm1:2 And he had\nGe1:1 In\n");
        Corpus corpus = Corpus.load(file);
        assertEquals(List.of("1Sm", "Ge"), corpus.books());
        assertEquals(List.of("Now there was"), corpus.trainTexts());
        assertEquals(List.of("And he had", "In"), corpus.validationTexts());
    }

    @Test
    void validationCountRoundsUpAndIsAtLeastOne() {
        assertEquals(1, Corpus.validationCount(1));
        assertEquals(1, Corpus.validationCount(20));
        assertEquals(2, Corpus.validationCount(21));
        assertEquals(5, Corpus.validationCount(100));
        assertEquals(6, Corpus.validationCount(101));
        assertEquals(77, Corpus.validationCount(1_533)); // Genesis
    }

    @Test
    void badFilesAreReportedWithTheirPath() throws IOException {
        Path missing = dir.resolve("nope.txt.gz");
        NoSuchFileException notFound = assertThrows(NoSuchFileException.class, () -> Corpus.load(missing));
        assertTrue(notFound.getMessage().contains(missing.toString()), notFound.getMessage());

        Path empty = Files.writeString(dir.resolve("empty.txt"), "\n  \n");
        IllegalArgumentException noText = assertThrows(IllegalArgumentException.class, () -> Corpus.load(empty));
        assertTrue(noText.getMessage().contains(empty.toString()), noText.getMessage());

        Path latin1 = Files.write(dir.resolve("latin1.txt"), new byte[] {'c', 'a', 'f', (byte) 0xE9, '\n'});
        IOException notUtf8 = assertThrows(IOException.class, () -> Corpus.load(latin1));
        assertTrue(notUtf8.getMessage().contains(latin1.toString()) && notUtf8.getMessage().contains("UTF-8"),
                notUtf8.getMessage());

        Path notGzip = Files.writeString(dir.resolve("fake.txt.gz"), "plain text\n");
        IOException badGzip = assertThrows(IOException.class, () -> Corpus.load(notGzip));
        assertTrue(badGzip.getMessage().contains(notGzip.toString()), badGzip.getMessage());
    }
}
