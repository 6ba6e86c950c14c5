package dev.switchback.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The {@code --store}, {@code --runs} and {@code --cache} options of the commands that train (a picocli mixin). */
final class TrainingPaths {
    @Option(names = "--store", paramLabel = "DIR", description = "Model store (default: $SWITCHBACK_STORE or ./store).")
    Path store;

    @Option(names = "--runs", paramLabel = "DIR", description = "Run folders: metrics.jsonl, checkpoints, reports (default: ./runs).")
    Path runs;

    @Option(names = "--cache", paramLabel = "DIR", description = "Tokenizer and encoded-corpus cache (default: ~/.cache/switchback).")
    Path cache;

    Path store() {
        return store != null ? store : Defaults.store();
    }

    Path runs() {
        return runs != null ? runs : Defaults.runs();
    }

    Path cache() {
        return cache != null ? cache : Defaults.cache();
    }
}
