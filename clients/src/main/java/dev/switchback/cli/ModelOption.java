package dev.switchback.cli;

import dev.switchback.store.ModelStore;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The {@code --model} and {@code --store} options of a command that reads one stored model (a picocli mixin). */
final class ModelOption {
    @Option(names = "--model", required = true, paramLabel = "DIR|NAME[:VERSION]", description = "Model folder or store name.")
    String model;

    @Option(names = "--store", paramLabel = "DIR",
            description = "Model store for names (default: $SWITCHBACK_STORE, or ./store, or the bundled store when ./store is empty).")
    Path store;

    /** The store {@code --store} names, or the default one ({@link Defaults#readStore}, which notes a fallback on {@code note}). */
    ModelStore store(PrintWriter note) throws IOException {
        return Defaults.readStore(store, note);
    }

    /** The folder {@code --model} names: a model folder as given, else a name[:version] in {@code store}. */
    Path dir(ModelStore store) throws IOException {
        return Defaults.modelDir(store, model);
    }
}
