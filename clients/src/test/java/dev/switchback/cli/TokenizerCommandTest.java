package dev.switchback.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.store.tokenizer.BpeTokenizer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizerCommandTest {
    @TempDir
    Path dir;

    /** Exit code, stdout and stderr of one command line. */
    record Run(int exitCode, String out, String err) {}

    static Run run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    private Path corpus() throws Exception {
        StringBuilder text = new StringBuilder();
        for (int verse = 1; verse <= 60; verse++) {
            text.append("Ge1:").append(verse).append(" And God said, Let there be light: and there was light ")
                    .append(verse).append(".\n");
        }
        return Files.writeString(dir.resolve("corpus.txt"), text);
    }

    @Test
    void trainsWritesTokenizerJsonAndSummarises() throws Exception {
        Path out = dir.resolve("tok");
        Run run = run("tokenizer", "train", "--corpus", corpus().toString(), "--vocab", "300", "--out", out.toString());

        assertEquals(0, run.exitCode(), run.err());
        BpeTokenizer tokenizer = BpeTokenizer.load(out.resolve("tokenizer.json"));
        assertEquals(300, tokenizer.vocabSize());
        assertEquals("And God said", tokenizer.decode(tokenizer.encode("And God said")));
        assertTrue(run.err().contains("merges 43/43"), run.err());
        String summary = run.out().strip();
        assertEquals(1, summary.lines().count(), summary);
        assertTrue(summary.matches("tokenizer: vocab 300, trained in [0-9.]+ s on 57 texts, [0-9.]+ bytes/token"
                + " on 3 validation texts, wrote .*tokenizer.json"), summary);
    }

    @Test
    void tooSmallVocabularyIsOneLineNamingTheOption() throws Exception {
        Run run = run("tokenizer", "train", "--corpus", corpus().toString(), "--vocab", "256", "--out", dir.toString());
        assertEquals(2, run.exitCode());
        assertEquals(1, run.err().strip().lines().count(), run.err());
        assertTrue(run.err().contains("--vocab") && run.err().contains("257"), run.err());
        assertTrue(Files.notExists(dir.resolve("tokenizer.json")));
    }

    @Test
    void missingCorpusIsOneLineNamingTheOption() {
        Path missing = dir.resolve("nope.txt.gz");
        Run run = run("tokenizer", "train", "--corpus", missing.toString(), "--out", dir.toString());
        assertEquals(2, run.exitCode());
        assertEquals(1, run.err().strip().lines().count(), run.err());
        assertTrue(run.err().contains("--corpus") && run.err().contains(missing.toString()), run.err());
    }
}
