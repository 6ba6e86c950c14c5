package dev.switchback.trainer.data;

import dev.switchback.store.corpus.Corpus;
import dev.switchback.store.tokenizer.BpeTokenizer;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * A corpus turned into token streams: each text (verse) is encoded followed by a newline, and the texts of a
 * split are concatenated. The tokenizer (trained on the training split when none is given) and the encoded
 * streams are cached under a folder keyed by the corpus's SHA-256 and the vocabulary, so repeated runs skip both.
 *
 * @param corpus the source corpus
 * @param tokenizer the tokenizer used
 * @param tokenizerFile where that tokenizer's {@code tokenizer.json} is
 * @param data the encoded splits
 */
public record TokenizedCorpus(Corpus corpus, BpeTokenizer tokenizer, Path tokenizerFile, TokenData data) {

    /**
     * @param tokenizerFile an existing tokenizer, or null to train (or reuse the cached) one of {@code vocab}
     * @param cacheDir cache root, e.g. {@code ~/.cache/switchback}
     * @param log where progress lines go
     */
    public static TokenizedCorpus prepare(Path corpusFile, Path tokenizerFile, int vocab, Path cacheDir, PrintWriter log)
            throws IOException {
        Corpus corpus = Corpus.load(corpusFile);
        String key = corpus.sha256().substring(0, 16) + (tokenizerFile == null ? "-bpe" + vocab : "-" + sha256(tokenizerFile));
        Path dir = cacheDir.resolve("corpora").resolve(key);
        Files.createDirectories(dir);
        Path tokFile = tokenizerFile != null ? tokenizerFile : dir.resolve("tokenizer.json");
        BpeTokenizer tokenizer;
        if (Files.isRegularFile(tokFile)) {
            tokenizer = BpeTokenizer.load(tokFile);
        } else {
            log.printf("training a %d-token BPE tokenizer on %s%n", vocab, corpusFile);
            long t0 = System.nanoTime();
            tokenizer = BpeTokenizer.train(corpus.trainTexts(), vocab, List.of(BpeTokenizer.END_OF_TEXT), null);
            Path tmp = dir.resolve("tokenizer.json.tmp");
            tokenizer.save(tmp);
            Files.move(tmp, tokFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            log.printf("tokenizer trained in %.1f s -> %s%n", (System.nanoTime() - t0) / 1e9, tokFile);
        }
        int[] train = cachedStream(dir.resolve("train.tokens"), tokenizer, corpus.trainTexts(), log);
        int[] validation = cachedStream(dir.resolve("validation.tokens"), tokenizer, corpus.validationTexts(), log);
        return new TokenizedCorpus(corpus, tokenizer, tokFile, new TokenData(train, validation));
    }

    /** Encodes texts as one stream, each text followed by a newline. */
    public static int[] encode(BpeTokenizer tokenizer, List<String> texts) {
        IntStream out = new IntStream();
        for (String text : texts) {
            out.addAll(tokenizer.encodeOrdinary(text + "\n"));
        }
        return out.toArray();
    }

    /** Token id → number of occurrences in {@code tokens}. */
    public static long[] counts(int[] tokens, int vocab) {
        long[] counts = new long[vocab];
        for (int t : tokens) {
            counts[t]++;
        }
        return counts;
    }

    private static int[] cachedStream(Path file, BpeTokenizer tokenizer, List<String> texts, PrintWriter log) throws IOException {
        if (Files.isRegularFile(file)) {
            try (DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(Files.newInputStream(file)))) {
                int n = in.readInt();
                int[] out = new int[n];
                for (int i = 0; i < n; i++) {
                    out[i] = in.readInt();
                }
                return out;
            }
        }
        long t0 = System.nanoTime();
        int[] tokens = encode(tokenizer, texts);
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (DataOutputStream out = new DataOutputStream(new java.io.BufferedOutputStream(Files.newOutputStream(tmp)))) {
            out.writeInt(tokens.length);
            for (int t : tokens) {
                out.writeInt(t);
            }
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        log.printf("encoded %d texts into %d tokens in %.1f s%n", texts.size(), tokens.length, (System.nanoTime() - t0) / 1e9);
        return tokens;
    }

    private static String sha256(Path file) throws IOException {
        try {
            java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
            return java.util.HexFormat.of().formatHex(md.digest(Files.readAllBytes(file))).substring(0, 16);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A growable int array. */
    private static final class IntStream {
        private int[] a = new int[1 << 16];
        private int n;

        void addAll(int[] xs) {
            if (n + xs.length > a.length) {
                a = java.util.Arrays.copyOf(a, Math.max(a.length * 2, n + xs.length));
            }
            System.arraycopy(xs, 0, a, n, xs.length);
            n += xs.length;
        }

        int[] toArray() {
            return java.util.Arrays.copyOf(a, n);
        }
    }
}
