package dev.switchback.server.generation;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The engine side of the server as the protocol layers see it: submit a generation, list and manage models.
 * Protocol code never touches tensors; engine code never sees HTTP.
 */
public interface GenerationService extends AutoCloseable {
    /**
     * Queues a generation; output goes to {@code listener}.
     *
     * @throws GenerationException at once for an unknown model (NOT_FOUND), bad settings or a prompt that does not
     *     fit the context (INVALID_ARGUMENT), or a full waiting queue (RESOURCE_EXHAUSTED)
     */
    Handle submit(GenerationRequest request, GenerationListener listener);

    /** The models in the store, loaded or not. */
    List<ModelCard> models();

    /** True once the models to serve at start-up are loaded. */
    boolean ready();

    /** Loads a model's latest version off the caller's thread; completes when it can serve. */
    CompletableFuture<ModelCard> load(String name);

    /** Stops admitting requests for a model, lets its in-flight ones finish, then frees it. */
    CompletableFuture<Void> unload(String name);

    /** Stops accepting work and finishes what is running, within the given time. */
    void shutdown(java.time.Duration grace);

    @Override
    default void close() {
        shutdown(java.time.Duration.ofSeconds(5));
    }

    /** A running generation. */
    interface Handle {
        /** An id unique within this server, e.g. {@code cmpl-...}. */
        String id();

        /** Stops the generation and frees its batch slot and KV blocks at once; the listener hears nothing more. */
        void cancel();
    }

    /**
     * What the server knows about a model.
     *
     * @param chatTemplate the model's chat template, or null when it has none (chat requests then fail with 400)
     */
    record ModelCard(String name, int version, String architecture, long totalParameters, long activeParameters,
            int contextLength, boolean loaded, String chatTemplate) {}
}
