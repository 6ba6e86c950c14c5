package dev.switchback.store.corpus;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;

/**
 * A UTF-8 text corpus ({@code .txt} or {@code .txt.gz}) with the project's fixed train/validation split.
 *
 * <p>The split, which every model's perplexity is reported on:
 * <ul>
 *   <li><b>Reference format</b> (every non-blank line starts with {@code Book<chapter>:<verse> }, e.g.
 *       {@code Ge1:1 In the beginning ...}, {@code 1Sm3:4 ...}): the verse text is what follows the reference, the
 *       book is the reference's prefix before the chapter number. Of each book's verses, in file order, the last
 *       {@code ceil(0.05 × verses_in_book)} (so at least one) are validation, the rest training.</li>
 *   <li><b>Plain text</b> (any other file): each non-blank line is one text; the last
 *       {@code ceil(0.05 × lines)} lines are validation, the rest training.</li>
 * </ul>
 * Blank lines are dropped in both formats. Both lists keep file order.
 */
public final class Corpus {
    /** A verse reference: book (shortest prefix, so {@code 1Sm} keeps its digit), chapter, verse, one space. */
    private static final Pattern REFERENCE = Pattern.compile("^(\\S*?)\\d+:\\d+ ");

    private final Path path;
    private final String sha256;
    private final List<String> books;
    private final List<String> trainTexts;
    private final List<String> validationTexts;

    private Corpus(Path path, String sha256, List<String> books, List<String> train, List<String> validation) {
        this.path = path;
        this.sha256 = sha256;
        this.books = List.copyOf(books);
        this.trainTexts = List.copyOf(train);
        this.validationTexts = List.copyOf(validation);
    }

    /**
     * Reads and splits a corpus file; a name ending in {@code .gz} is gunzipped.
     *
     * @throws NoSuchFileException naming the path when the file does not exist
     * @throws IOException naming the path when it is not valid UTF-8 (or not valid gzip)
     * @throws IllegalArgumentException naming the path when it holds no text
     */
    public static Corpus load(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString(), null, "corpus file not found");
        }
        MessageDigest sha = sha256Digest();
        List<String> lines = new ArrayList<>();
        try (InputStream raw = new DigestInputStream(Files.newInputStream(file), sha);
                InputStream in = file.getFileName().toString().endsWith(".gz") ? new GZIPInputStream(raw, 1 << 16) : raw;
                BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)), 1 << 16)) {
            for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                if (!line.isBlank()) {
                    lines.add(line);
                }
            }
            // Drain what the reader did not need (e.g. a gzip trailer) so the digest covers every byte.
            raw.transferTo(java.io.OutputStream.nullOutputStream());
        } catch (CharacterCodingException e) {
            throw new IOException(file + ": not valid UTF-8 text (" + e + ")", e);
        } catch (java.util.zip.ZipException e) {
            throw new IOException(file + ": not a valid gzip file (" + e.getMessage() + ")", e);
        }
        if (lines.isEmpty()) {
            throw new IllegalArgumentException(file + ": corpus holds no text");
        }
        String digest = HexFormat.of().formatHex(sha.digest());
        return allReferenced(lines) ? splitByBook(file, digest, lines) : splitPlain(file, digest, lines);
    }

    /** The texts to train on (verse texts without references, or plain lines), in file order. */
    public List<String> trainTexts() {
        return trainTexts;
    }

    /** The held-out texts, in file order. */
    public List<String> validationTexts() {
        return validationTexts;
    }

    /** The book names in file order (e.g. {@code Ge}, {@code 1Sm}); empty for plain text. */
    public List<String> books() {
        return books;
    }

    /** Lower-case hex SHA-256 of the file's bytes as stored (compressed, for a {@code .gz}). */
    public String sha256() {
        return sha256;
    }

    /** The file this corpus was read from. */
    public Path path() {
        return path;
    }

    /** How many texts of {@code n} go to validation: ceil(5% of n), at least one; exact integer arithmetic. */
    static int validationCount(int n) {
        return Math.max(1, (int) ((5L * n + 99) / 100));
    }

    private static boolean allReferenced(List<String> lines) {
        for (String line : lines) {
            if (!REFERENCE.matcher(line).find()) {
                return false;
            }
        }
        return true;
    }

    private static Corpus splitByBook(Path file, String digest, List<String> lines) {
        Map<String, List<String>> byBook = new LinkedHashMap<>();
        for (String line : lines) {
            Matcher m = REFERENCE.matcher(line);
            m.find();
            byBook.computeIfAbsent(m.group(1), b -> new ArrayList<>()).add(line.substring(m.end()));
        }
        List<String> train = new ArrayList<>(lines.size());
        List<String> validation = new ArrayList<>();
        for (List<String> verses : byBook.values()) {
            int cut = verses.size() - validationCount(verses.size());
            train.addAll(verses.subList(0, cut));
            validation.addAll(verses.subList(cut, verses.size()));
        }
        return new Corpus(file, digest, new ArrayList<>(byBook.keySet()), train, validation);
    }

    private static Corpus splitPlain(Path file, String digest, List<String> lines) {
        int cut = lines.size() - validationCount(lines.size());
        return new Corpus(file, digest, List.of(), lines.subList(0, cut), lines.subList(cut, lines.size()));
    }

    private static MessageDigest sha256Digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }
}
