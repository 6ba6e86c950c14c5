package dev.switchback.server.models;

import dev.switchback.server.generation.GenerationException;
import dev.switchback.server.generation.GenerationListener;
import dev.switchback.server.generation.GenerationRequest;
import dev.switchback.server.generation.GenerationService;
import dev.switchback.server.metrics.ServingMetrics;
import dev.switchback.server.scheduler.Scheduler;
import dev.switchback.kernels.engine.WeightFormat;
import dev.switchback.store.ModelManifest;
import dev.switchback.store.ModelRef;
import dev.switchback.store.ModelStore;
import dev.switchback.store.safetensors.DType;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * {@link GenerationService} on the native engine (ONNX Runtime for a model exported to ONNX): each loaded model has
 * a {@link Scheduler} thread doing continuous batching over its engine; models load off the caller's thread, one at
 * a time, and idle ones give way when the loaded-models memory budget is reached.
 */
public final class EngineGenerationService implements GenerationService {
    private static final System.Logger LOG = System.getLogger(EngineGenerationService.class.getName());

    private final ModelCatalog catalog;
    private final ServerOptions options;
    private final ServingMetrics metrics;
    private final LoadedModels loaded;
    // One loader thread: loading reads and copies whole weight files, and two at once would only compete for memory.
    private final ExecutorService loader = Executors.newSingleThreadExecutor(
            Thread.ofPlatform().name("model-loader").daemon().factory());
    private final Map<String, CompletableFuture<ModelCard>> loading = new ConcurrentHashMap<>();
    private final Map<String, CompletableFuture<Void>> unloading = new ConcurrentHashMap<>();
    // Unloaded on request: not loaded again on demand, only by load().
    private final Set<String> unloaded = ConcurrentHashMap.newKeySet();
    private final CompletableFuture<Void> startup;
    private volatile boolean shuttingDown;

    /** Starts loading {@code options.models()}; {@link #ready()} turns true once they all serve. */
    public EngineGenerationService(ModelStore store, ServerOptions options, PrometheusRegistry registry) {
        this.catalog = new ModelCatalog(Objects.requireNonNull(store, "store"));
        this.options = Objects.requireNonNull(options, "options");
        this.metrics = new ServingMetrics(Objects.requireNonNull(registry, "registry"));
        this.loaded = new LoadedModels(options.loadedModelsBytes(), this::retire);
        this.startup = CompletableFuture.allOf(options.models().stream().map(this::load).toArray(CompletableFuture[]::new));
        startup.whenComplete((v, e) -> {
            if (e != null) {
                LOG.log(System.Logger.Level.ERROR, "a start-up model failed to load; the server will not be ready", e);
            }
        });
    }

    /** Completes when the start-up models serve, or fails with the first load failure (for {@code main} to exit on). */
    public CompletableFuture<Void> started() {
        return startup.copy();
    }

    public ServerOptions options() {
        return options;
    }

    @Override
    public Handle submit(GenerationRequest request, GenerationListener listener) {
        Objects.requireNonNull(request, "request");
        Objects.requireNonNull(listener, "listener");
        if (shuttingDown) {
            throw new GenerationException(GenerationException.Kind.UNAVAILABLE, "the server is shutting down", null);
        }
        LoadedModel model = loaded.pin(request.model());
        if (model == null) {
            throw notServing(request.model());
        }
        try {
            return model.scheduler.submit(request, listener, () -> loaded.unpin(model));
        } catch (RuntimeException e) {
            loaded.unpin(model);
            throw e;
        }
    }

    /** Why a model cannot take a request now; starts loading it when loading on demand applies. */
    private GenerationException notServing(String name) {
        ModelRef ref = catalog.latest(name); // NOT_FOUND when the store does not have it
        if (unloading.containsKey(name)) {
            return unavailable("model '" + name + "' is being unloaded");
        }
        if (loading.containsKey(name)) {
            return unavailable("model '" + name + "' is loading; retry shortly");
        }
        if (!options.loadOnDemand() || unloaded.contains(name)) {
            return unavailable("model '" + name + "' is not loaded");
        }
        load(name);
        return unavailable("model " + ref + " was not loaded; loading it now, retry shortly");
    }

    private static GenerationException unavailable(String message) {
        return new GenerationException(GenerationException.Kind.UNAVAILABLE, message, "model");
    }

    @Override
    public List<ModelCard> models() {
        List<ModelCard> cards = new ArrayList<>();
        for (ModelRef ref : catalog.latestOfEach()) {
            LoadedModel m = loaded.get(ref.name());
            cards.add(m != null ? m.card : ModelCatalog.card(ref, catalog.manifest(ref), false));
        }
        return cards;
    }

    @Override
    public boolean ready() {
        return !shuttingDown && startup.isDone() && !startup.isCompletedExceptionally();
    }

    @Override
    public CompletableFuture<ModelCard> load(String name) {
        Objects.requireNonNull(name, "name");
        if (shuttingDown) {
            return CompletableFuture.failedFuture(unavailable("the server is shutting down"));
        }
        unloaded.remove(name);
        LoadedModel present = loaded.get(name);
        if (present != null) {
            return CompletableFuture.completedFuture(present.card);
        }
        CompletableFuture<ModelCard> started = new CompletableFuture<>();
        CompletableFuture<ModelCard> pending = loading.putIfAbsent(name, started);
        if (pending != null) {
            return pending.copy();
        }
        // An unload of the same name in progress finishes first: the two must not share the model's series.
        CompletableFuture<Void> before = unloading.getOrDefault(name, CompletableFuture.completedFuture(null));
        before.handle((v, e) -> null).thenApplyAsync(v -> loadNow(name), loader).whenComplete((card, e) -> {
            loading.remove(name, started);
            if (e != null) {
                started.completeExceptionally(e instanceof CompletionException c && c.getCause() != null ? c.getCause() : e);
            } else {
                started.complete(card);
            }
        });
        return started.copy();
    }

    private ModelCard loadNow(String name) {
        LoadedModel present = loaded.get(name);
        if (present != null) {
            return present.card;
        }
        ModelRef ref = catalog.latest(name);
        ModelManifest manifest = catalog.manifest(ref);
        // The engine keeps BF16 weights as BF16 and widens everything else to F32.
        WeightFormat format = manifest.weightDType() == DType.BF16 ? WeightFormat.BF16 : WeightFormat.F32;
        LoadedModel.checkFits(ref, LoadedModel.weightBytes(manifest.config(), format), options.loadedModelsBytes());
        LoadedModel model;
        try {
            model = LoadedModel.load(catalog.store(), ref, options, metrics);
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot load " + ref, e);
            throw new GenerationException(GenerationException.Kind.INTERNAL, "cannot load model " + ref + ": " + e.getMessage(),
                    "model");
        }
        try {
            // Under the same lock as shutdown's snapshot of the loaded models, so none starts serving behind it.
            synchronized (this) {
                if (shuttingDown) {
                    throw unavailable("the server is shutting down");
                }
                loaded.add(model);
            }
        } catch (RuntimeException e) {
            model.scheduler.drain();
            throw e;
        }
        LOG.log(System.Logger.Level.DEBUG, "loaded " + ref);
        return model.card;
    }

    @Override
    public CompletableFuture<Void> unload(String name) {
        Objects.requireNonNull(name, "name");
        unloaded.add(name);
        CompletableFuture<ModelCard> pending = loading.get(name);
        if (pending != null) {
            // Unload what is being loaded, once it is.
            return pending.handle((card, e) -> null).thenCompose(v -> unload(name));
        }
        LoadedModel model = loaded.get(name);
        if (model == null) {
            try {
                catalog.latest(name); // NOT_FOUND for a model the store does not have
            } catch (GenerationException e) {
                return CompletableFuture.failedFuture(e);
            }
            return CompletableFuture.completedFuture(null);
        }
        CompletableFuture<Void> done = unloading.computeIfAbsent(name, n -> model.scheduler.drain().whenComplete((v, e) -> {
            loaded.remove(model);
            LOG.log(System.Logger.Level.DEBUG, "unloaded " + model.ref);
        }));
        done.whenComplete((v, e) -> unloading.remove(name, done));
        return done.copy();
    }

    /** An idle model evicted for room: its scheduler stops (it has nothing in flight) and the engine is let go. */
    private void retire(LoadedModel model) {
        LOG.log(System.Logger.Level.DEBUG, "evicting idle model " + model.ref + " for memory");
        model.scheduler.drain();
    }

    @Override
    public void shutdown(Duration grace) {
        List<LoadedModel> models;
        synchronized (this) {
            shuttingDown = true;
            models = loaded.all();
        }
        List<CompletableFuture<Void>> stopped = models.stream().map(m -> m.scheduler.drain()).toList();
        CompletableFuture<Void> all = CompletableFuture.allOf(stopped.toArray(CompletableFuture[]::new));
        try {
            all.get(Math.max(0, grace.toMillis()), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            GenerationException reason = unavailable("the server is shutting down");
            models.forEach(m -> m.scheduler.abort(reason));
            all.completeOnTimeout(null, 5, TimeUnit.SECONDS).join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            LOG.log(System.Logger.Level.WARNING, "a scheduler failed while stopping", e.getCause());
        }
        models.forEach(loaded::remove);
        loader.shutdownNow();
    }

    /** The scheduler of a loaded model, for tests and health detail; null when the model is not loaded. */
    Scheduler scheduler(String name) {
        LoadedModel m = loaded.get(name);
        return m == null ? null : m.scheduler;
    }
}
