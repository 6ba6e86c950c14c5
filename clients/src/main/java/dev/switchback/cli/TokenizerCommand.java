package dev.switchback.cli;

import dev.switchback.store.corpus.Corpus;
import dev.switchback.store.tokenizer.BpeTokenizer;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.function.IntConsumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code switchback tokenizer}: byte-level BPE tokenizers stored as Hugging Face {@code tokenizer.json}. */
@Command(
        name = "tokenizer",
        mixinStandardHelpOptions = true,
        description = "Byte-level BPE tokenizers (Hugging Face tokenizer.json).",
        synopsisSubcommandLabel = "COMMAND",
        subcommands = {TokenizerCommand.Train.class})
public final class TokenizerCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return 2;
    }

    /** Trains on a corpus's training split and reports compression on its validation split. */
    @Command(
            name = "train",
            mixinStandardHelpOptions = true,
            description = "Train a tokenizer on the corpus's training split and write DIR/tokenizer.json.")
    static final class Train implements Callable<Integer> {
        /** 256 byte tokens and <|endoftext|>. */
        static final int MIN_VOCAB = 257;
        private static final long PROGRESS_INTERVAL_NANOS = 100_000_000L;

        @Spec
        CommandSpec spec;

        @Option(names = "--corpus", required = true, paramLabel = "FILE",
                description = "Corpus, .txt or .txt.gz (KJV reference lines are split per book).")
        Path corpus;

        @Option(names = "--vocab", defaultValue = "4096", paramLabel = "N",
                description = "Vocabulary size, special and byte tokens included (default: ${DEFAULT-VALUE}).")
        int vocab;

        @Option(names = "--out", required = true, paramLabel = "DIR", description = "Folder for tokenizer.json.")
        Path out;

        @Override
        public Integer call() throws Exception {
            if (vocab < MIN_VOCAB) {
                throw new IllegalArgumentException("--vocab: must be >= " + MIN_VOCAB
                        + " (256 byte tokens + " + BpeTokenizer.END_OF_TEXT + "), got " + vocab);
            }
            if (!Files.isRegularFile(corpus)) {
                throw new IllegalArgumentException("--corpus: no such file: " + corpus);
            }
            Corpus data = Corpus.load(corpus);
            PrintWriter err = spec.commandLine().getErr();
            int mergesWanted = vocab - MIN_VOCAB;

            long start = System.nanoTime();
            BpeTokenizer tokenizer = BpeTokenizer.train(data.trainTexts(), vocab, List.of(), progress(err, mergesWanted));
            double trainSeconds = (System.nanoTime() - start) / 1e9;
            err.printf("\rmerges %d/%d%n", tokenizer.vocabSize() - MIN_VOCAB, mergesWanted);
            err.flush();

            Path file = out.resolve("tokenizer.json");
            tokenizer.save(file);
            long bytes = 0;
            long tokens = 0;
            for (String text : data.validationTexts()) {
                bytes += text.getBytes(StandardCharsets.UTF_8).length;
                tokens += tokenizer.encode(text).length;
            }
            spec.commandLine().getOut().printf(Locale.ROOT,
                    "tokenizer: vocab %d, trained in %.1f s on %d texts, %.3f bytes/token on %d validation texts, wrote %s%n",
                    tokenizer.vocabSize(), trainSeconds, data.trainTexts().size(), bytes / (double) Math.max(1, tokens),
                    data.validationTexts().size(), file);
            return 0;
        }

        /** A progress line on stderr, rewritten in place at most every 100 ms. */
        private static IntConsumer progress(PrintWriter err, int total) {
            long[] last = {System.nanoTime()};
            return done -> {
                long now = System.nanoTime();
                if (now - last[0] >= PROGRESS_INTERVAL_NANOS) {
                    last[0] = now;
                    err.printf("\rmerges %d/%d", done, total);
                    err.flush();
                }
            };
        }
    }
}
