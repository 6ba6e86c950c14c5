package dev.switchback.cli;

import dev.switchback.store.ModelStore;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The {@code --model} and {@code --store} options of a command that reads one stored model (a picocli mixin). */
final class ModelOption {
    @Option(names = "--model", required = true, paramLabel = "DIR|NAME[:VERSION]", description = "Model folder or store name.")
    String model;

    @Option(names = "--store", paramLabel = "DIR", description = "Model store for names (default: $SWITCHBACK_STORE or ./store).")
    Path store;

    /** The store {@code --store} names, or the default one. */
    ModelStore store() {
        return new ModelStore(store != null ? store : Defaults.store());
    }

    /** The folder {@code --model} names in {@code store}. */
    Path dir(ModelStore store) throws IOException {
        return Defaults.modelDir(store, model);
    }
}
