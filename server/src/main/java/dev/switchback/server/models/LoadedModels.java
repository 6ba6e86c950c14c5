package dev.switchback.server.models;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import java.util.List;
import java.util.function.Consumer;

/**
 * The models in memory, bounded by the weight bytes they take. Idle models are evicted when a new one needs room;
 * a model with requests in flight is pinned by weighing nothing (Caffeine skips zero-weight entries), and pinning
 * and unpinning go through {@code asMap().compute} so the cache re-weighs the entry each time.
 */
final class LoadedModels {
    // Weights are counted in KiB: Caffeine's weigher returns an int, and models pass 2 GiB.
    private static final int KIB = 1024;

    private final Cache<String, LoadedModel> cache;

    /** @param onEvicted told of each model evicted for room (on the thread that caused it; it must not block) */
    LoadedModels(long budgetBytes, Consumer<LoadedModel> onEvicted) {
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

    void add(LoadedModel model) {
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
