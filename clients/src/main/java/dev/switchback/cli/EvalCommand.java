package dev.switchback.cli;

import ai.djl.ndarray.NDManager;
import dev.switchback.store.ModelStore;
import dev.switchback.store.OpenedModel;
import dev.switchback.trainer.Evaluation;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code switchback eval}: validation loss and perplexity of a stored model on a corpus's fixed split. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Evaluate a stored model on the validation split of a corpus.")
final class EvalCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption modelOption;

    @Option(names = "--corpus", required = true, paramLabel = "FILE", description = "Corpus (.txt or .txt.gz).")
    Path corpus;

    @Option(names = "--seq-len", defaultValue = "128", paramLabel = "N", description = "Evaluation window (default: ${DEFAULT-VALUE}).")
    int seqLen;

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(corpus)) {
            throw new IllegalArgumentException("--corpus: file does not exist: " + corpus);
        }
        ModelStore s = modelOption.store(spec.commandLine().getErr());
        Path dir = modelOption.dir(s);
        try (OpenedModel opened = s.open(dir); NDManager manager = NDManager.newBaseManager()) {
            Evaluation.Result r = Evaluation.run(manager, opened, corpus, seqLen);
            spec.commandLine().getOut().printf(Locale.ROOT, "%s: val_loss %.4f val_ppl %.3f over %,d tokens%n", dir, r.loss(),
                    Math.exp(r.loss()), r.tokens());
        }
        return 0;
    }
}
