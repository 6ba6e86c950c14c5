package dev.switchback.server.models;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Policy;
import com.github.benmanes.caffeine.cache.RemovalCause;
import dev.switchback.server.generation.GenerationException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The models in memory, bounded by the weight bytes they take. A model with requests in flight is pinned by
 * weighing nothing (Caffeine skips zero-weight entries); pinning and unpinning go through {@code asMap().compute}
 * so the cache re-weighs the entry each time.
 *
 * <p>Room for a new model is made before it goes in, evicting idle models in Caffeine's eviction order, and a load
 * that would need a busy model's memory is refused. Left to itself, Caffeine's frequency-based admission could
 * evict the model just loaded, and an unpinned model coming back to its weight could push the total past the
 * budget; this way Caffeine's own bound is a safety net that the real weights never reach.
 */
final class LoadedModels {
    // Weights are counted in KiB: Caffeine's weigher returns an int, and models pass 2 GiB.
    private static final int KIB = 1024;

    private final Cache<String, LoadedModel> cache;
    private final Consumer<LoadedModel> onEvicted;

    /** @param onEvicted told of each model evicted for room (on the thread that caused it; it must not block) */
    LoadedModels(long budgetBytes, Consumer<LoadedModel> onEvicted) {
        this.onEvicted = onEvicted;
        this.cache = Caffeine.newBuilder()
                .maximumWeight(Math.max(1, budgetBytes / KIB))
                .weigher((String name, LoadedModel m) -> m.pinned() ? 0 : kib(m.weightBytes))
                // Evict at once, on the calling thread, so a load that needs room gets it before it returns.
                .executor(Runnable::run)
                .removalListener((String name, LoadedModel m, RemovalCause cause) -> {
                    if (cause.wasEvicted()) {
                        onEvicted.accept(m);
                    }
                })
                .build();
    }

    private static int kib(long bytes) {
        return (int) Math.clamp((bytes + KIB - 1) / KIB, 1, Integer.MAX_VALUE);
    }

    /** The model, pinned against eviction until {@link #unpin}; null when it is not loaded. */
    LoadedModel pin(String name) {
        return cache.asMap().computeIfPresent(name, (n, m) -> {
            m.pin();
            return m;
        });
    }

    void unpin(LoadedModel model) {
        if (model.unpin()) {
            // Re-weigh now that it is idle; this may evict it (or another idle model) if the budget is exceeded.
            cache.asMap().computeIfPresent(model.name(), (n, m) -> m);
        }
    }

    /**
     * Adds a loaded model, first evicting idle models, coldest first, while the loaded weights and its own would
     * pass the budget.
     *
     * @throws GenerationException RESOURCE_EXHAUSTED when busy models hold too much of the budget to make room
     */
    synchronized void add(LoadedModel model) {
        Policy.Eviction<String, LoadedModel> eviction = cache.policy().eviction().orElseThrow();
        long used = 0;
        for (LoadedModel m : cache.asMap().values()) {
            used += kib(m.weightBytes);
        }
        long need = kib(model.weightBytes);
        List<LoadedModel> evicted = new ArrayList<>();
        for (String name : eviction.coldest(Integer.MAX_VALUE).keySet()) {
            if (used + need <= eviction.getMaximum()) {
                break;
            }
            LoadedModel[] removed = new LoadedModel[1];
            cache.asMap().computeIfPresent(name, (n, m) -> {
                if (m.pinned()) {
                    return m;
                }
                removed[0] = m;
                return null;
            });
            if (removed[0] != null) {
                used -= kib(removed[0].weightBytes);
                evicted.add(removed[0]);
            }
        }
        evicted.forEach(onEvicted);
        if (used + need > eviction.getMaximum()) {
            throw new GenerationException(GenerationException.Kind.RESOURCE_EXHAUSTED, "no room for model " + model.ref
                    + ": models with requests in flight hold the loaded-models memory budget; retry later", "model");
        }
        cache.put(model.name(), model);
    }

    LoadedModel get(String name) {
        return cache.getIfPresent(name);
    }

    /** Removes {@code model} if it is still the one loaded under its name. */
    boolean remove(LoadedModel model) {
        return cache.asMap().remove(model.name(), model);
    }

    List<LoadedModel> all() {
        return List.copyOf(cache.asMap().values());
    }
}
