package dev.switchback.cli;

import java.nio.file.Path;

/** Default locations, overridable by environment variables so scripts and tests can redirect them. */
final class Defaults {
    private Defaults() {}

    /** The model store: {@code $SWITCHBACK_STORE} or {@code ./store}. */
    static Path store() {
        return env("SWITCHBACK_STORE", "store");
    }

    /** Run folders (metrics, checkpoints): {@code $SWITCHBACK_RUNS} or {@code ./runs}. */
    static Path runs() {
        return env("SWITCHBACK_RUNS", "runs");
    }

    /** Tokenizer and encoded-corpus cache: {@code $SWITCHBACK_CACHE} or {@code ~/.cache/switchback}. */
    static Path cache() {
        String v = System.getenv("SWITCHBACK_CACHE");
        return v != null ? Path.of(v) : Path.of(System.getProperty("user.home"), ".cache", "switchback");
    }

    /**
     * The corpus prompts are cut from: {@code $SWITCHBACK_CORPUS}, else {@code ../shared/corpus/kjv.txt.gz} beside
     * the checkout the launcher runs from ({@code switchback.home}), or beside the working directory.
     */
    static Path corpus() {
        String v = System.getenv("SWITCHBACK_CORPUS");
        if (v != null) {
            return Path.of(v);
        }
        String home = System.getProperty("switchback.home");
        return (home != null ? Path.of(home) : Path.of("")).resolve("../shared/corpus/kjv.txt.gz").normalize();
    }

    /** The folder a {@code --model} option names: a model folder as given, else a name[:version] in {@code store}. */
    static Path modelDir(dev.switchback.store.ModelStore store, String model) throws java.io.IOException {
        Path asPath = Path.of(model);
        return java.nio.file.Files.isDirectory(asPath) ? asPath : store.resolve(model);
    }

    private static Path env(String name, String fallback) {
        String v = System.getenv(name);
        return Path.of(v != null ? v : fallback);
    }
}
