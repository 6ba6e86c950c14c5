package dev.switchback.server.models;

import dev.switchback.server.generation.GenerationException;
import dev.switchback.server.generation.GenerationService.ModelCard;
import dev.switchback.store.ModelFiles;
import dev.switchback.store.ModelManifest;
import dev.switchback.store.ModelRef;
import dev.switchback.store.ModelStore;
import dev.switchback.store.model.ModelConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** The models of the store as the server names them: each name stands for its latest published version. */
final class ModelCatalog {
    private final ModelStore store;
    // Published versions never change, so a manifest read once stays true.
    private final Map<Path, ModelManifest> manifests = new ConcurrentHashMap<>();

    ModelCatalog(ModelStore store) {
        this.store = store;
    }

    ModelStore store() {
        return store;
    }

    /** The latest version of {@code name}; NOT_FOUND when the store has none. */
    ModelRef latest(String name) {
        List<ModelRef> versions;
        try {
            versions = store.versions(name);
        } catch (IOException e) {
            throw new GenerationException(GenerationException.Kind.UNAVAILABLE, "the model store cannot be read", "model");
        } catch (RuntimeException e) {
            versions = List.of(); // not a valid model name, so no such model
        }
        if (versions.isEmpty()) {
            throw new GenerationException(GenerationException.Kind.NOT_FOUND, "no model named '" + name + "'", "model");
        }
        return versions.getLast();
    }

    /** The latest version of every model, by name. */
    List<ModelRef> latestOfEach() {
        Map<String, ModelRef> latest = new LinkedHashMap<>();
        try {
            for (ModelRef ref : store.list()) {
                latest.merge(ref.name(), ref, (a, b) -> a.version() >= b.version() ? a : b);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the model store " + store.root(), e);
        }
        return new ArrayList<>(latest.values());
    }

    ModelManifest manifest(ModelRef ref) {
        return manifests.computeIfAbsent(ref.dir(), dir -> {
            try {
                return ModelManifest.read(dir.resolve(ModelFiles.MANIFEST));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the manifest of " + ref, e);
            }
        });
    }

    static ModelCard card(ModelRef ref, ModelManifest manifest, boolean loaded) {
        ModelConfig c = manifest.config();
        long embeddings = c.totalParameters() - c.nonEmbeddingParameters();
        return new ModelCard(ref.name(), ref.version(), c.architecture().kind(), c.totalParameters(),
                c.activeNonEmbeddingParameters() + embeddings, c.contextLength(), loaded, manifest.chatTemplate());
    }
}
