package dev.switchback.cli;

import dev.switchback.store.ModelStore;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;

/** Default locations, overridable by environment variables so scripts and tests can redirect them. */
final class Defaults {
    /** Where the bundled store lies below {@code switchback.home}, in a checkout and in the distribution alike. */
    static final String BUNDLED_STORE = "model-store/default-store";

    private Defaults() {}

    /**
     * The store that commands reading models use: {@code --store} when given, else {@code $SWITCHBACK_STORE} when set,
     * else {@code ./store} — or, when {@code ./store} holds no models, the bundled store with the default model (saying
     * so on {@code note}), so that a fresh checkout or an unpacked distribution serves at once.
     */
    static ModelStore readStore(Path option, PrintWriter note) throws IOException {
        if (option != null || System.getenv("SWITCHBACK_STORE") != null) {
            return new ModelStore(option != null ? option : store());
        }
        ModelStore local = new ModelStore(store());
        Path bundled = bundledStore();
        if (bundled == null || !local.list().isEmpty()) {
            return local;
        }
        note.println(local.root() + " has no models; using the bundled store " + bundled + " (--store DIR for another)");
        note.flush();
        return new ModelStore(bundled);
    }

    /** {@code <switchback.home>/model-store/default-store}, or null when not run by a launcher or when it is missing. */
    static Path bundledStore() {
        String home = System.getProperty("switchback.home");
        if (home == null) {
            return null;
        }
        Path dir = Path.of(home).resolve(BUNDLED_STORE).toAbsolutePath().normalize();
        return Files.isDirectory(dir) ? dir : null;
    }

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

    /** The folder a {@code --model} option names: a model folder as given, else a name[:version] in {@link #readStore}. */
    static Path modelDir(Path storeOption, String model, PrintWriter note) throws IOException {
        Path asPath = Path.of(model);
        return Files.isDirectory(asPath) ? asPath : readStore(storeOption, note).resolve(model);
    }

    /** The folder {@code model} names: a model folder as given, else a name[:version] in {@code store}. */
    static Path modelDir(ModelStore store, String model) throws IOException {
        Path asPath = Path.of(model);
        return Files.isDirectory(asPath) ? asPath : store.resolve(model);
    }

    private static Path env(String name, String fallback) {
        String v = System.getenv(name);
        return Path.of(v != null ? v : fallback);
    }
}
