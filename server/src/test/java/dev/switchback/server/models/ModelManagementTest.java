package dev.switchback.server.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.kernels.engine.WeightFormat;
import dev.switchback.kernels.sampling.SamplingParams;
import dev.switchback.server.generation.GenerationException;
import dev.switchback.server.generation.GenerationException.Kind;
import dev.switchback.server.generation.GenerationRequest;
import dev.switchback.server.generation.GenerationService.ModelCard;
import dev.switchback.store.ModelFiles;
import dev.switchback.store.ModelStore;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which models are loaded: start-up, latest versions, load and unload, on-demand loading, the memory budget. */
class ModelManagementTest {
    @TempDir
    static Path root;
    static ModelStore store;
    /** Weight bytes of one model here (both have the same size). */
    static long modelBytes;

    @BeforeAll
    static void publish() throws Exception {
        store = new ModelStore(root);
        ServableModels.publish(store, "switch", ServableModels.switchUnbounded(), 1);
        ServableModels.publish(store, "hash", ServableModels.hash(), 2);
        ServableModels.publish(store, "hash", ServableModels.hash(), 3);
        Path broken = ServableModels.publish(store, "broken", ServableModels.hash(), 4);
        Files.write(broken.resolve(ModelFiles.WEIGHTS), new byte[] {1}, StandardOpenOption.APPEND);
        modelBytes = Math.max(LoadedModel.weightBytes(ServableModels.config(ServableModels.switchUnbounded()), WeightFormat.F32),
                LoadedModel.weightBytes(ServableModels.config(ServableModels.hash()), WeightFormat.F32));
    }

    static EngineGenerationService serve(ServerOptions options) {
        return new EngineGenerationService(store, options, new PrometheusRegistry());
    }

    static Map<String, ModelCard> cards(EngineGenerationService service) {
        return service.models().stream().collect(Collectors.toMap(ModelCard::name, c -> c));
    }

    static void await(EngineGenerationService service, Predicate<Map<String, ModelCard>> condition) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!condition.test(cards(service))) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("models never reached the expected state: " + cards(service));
            }
            Thread.sleep(2);
        }
    }

    static Recorder.Result run(EngineGenerationService service, String model) {
        Recorder r = new Recorder();
        service.submit(new GenerationRequest(model, GenerationTest.PROMPT, SamplingParams.greedy(5), false, null), r);
        return r.await();
    }

    @Test
    void startUpModelsLoadBeforeReadyAndNamesResolveToTheLatestVersion() {
        try (EngineGenerationService service = serve(ServerOptions.defaults().withModels(List.of("switch", "hash")))) {
            service.started().join();
            assertTrue(service.ready());
            Map<String, ModelCard> cards = cards(service);
            assertEquals(3, cards.size());
            assertEquals(2, cards.get("hash").version(), "the latest of two versions");
            assertTrue(cards.get("hash").loaded());
            assertEquals("hash", cards.get("hash").architecture());
            assertEquals(ServableModels.CONTEXT, cards.get("switch").contextLength());
            assertTrue(cards.get("switch").activeParameters() < cards.get("switch").totalParameters(),
                    "a token meets one expert of four");
            assertFalse(cards.get("broken").loaded());
            assertNull(run(service, "hash").error());
        }
    }

    @Test
    void aStartUpModelThatFailsToLoadKeepsTheServerUnready() {
        try (EngineGenerationService service = serve(ServerOptions.defaults().withModels(List.of("switch", "missing")))) {
            CompletionException e = assertThrows(CompletionException.class, () -> service.started().join());
            assertTrue(e.getCause() instanceof GenerationException g && g.kind() == Kind.NOT_FOUND, e.toString());
            assertFalse(service.ready());
        }
    }

    @Test
    void aModelFolderThatFailsItsChecksumsIsNeverServed() {
        try (EngineGenerationService service = serve(ServerOptions.defaults())) {
            ExecutionException e = assertThrows(ExecutionException.class, () -> service.load("broken").get(10, TimeUnit.SECONDS));
            assertTrue(e.getCause() instanceof GenerationException g && g.kind() == Kind.INTERNAL, e.toString());
            assertTrue(e.getCause().getMessage().contains("refusing to open"), e.getCause().getMessage());
            assertFalse(cards(service).get("broken").loaded());
        }
    }

    @Test
    void anIdleModelIsEvictedWhenAnotherNeedsItsMemory() throws Exception {
        try (EngineGenerationService service = serve(ServerOptions.defaults().withLoadedModelsBytes(modelBytes * 3 / 2))) {
            service.load("switch").get(10, TimeUnit.SECONDS);
            service.load("hash").get(10, TimeUnit.SECONDS);
            await(service, c -> c.get("hash").loaded() && !c.get("switch").loaded());
        }
    }

    @Test
    void aModelWithRequestsInFlightIsNotEvictedAndALoadNeedingItsMemoryIsRefused() throws Exception {
        try (EngineGenerationService service = serve(ServerOptions.defaults().withLoadedModelsBytes(modelBytes * 3 / 2))) {
            service.load("switch").get(10, TimeUnit.SECONDS);
            RequestLifecycleTest.Slow busy = new RequestLifecycleTest.Slow();
            service.submit(new GenerationRequest("switch", GenerationTest.PROMPT, SamplingParams.greedy(60), false, null), busy);
            ExecutionException refused = assertThrows(ExecutionException.class, () -> service.load("hash").get(10, TimeUnit.SECONDS));
            assertTrue(refused.getCause() instanceof GenerationException g && g.kind() == Kind.RESOURCE_EXHAUSTED,
                    refused.toString());
            assertTrue(cards(service).get("switch").loaded());
            assertNull(busy.await().error(), "the busy model finished its request");
            ServableModels.awaitIdle(service.scheduler("switch"));
            service.load("hash").get(10, TimeUnit.SECONDS);
            await(service, c -> c.get("hash").loaded() && !c.get("switch").loaded());
        }
    }

    @Test
    void aModelLargerThanTheBudgetIsRefused() {
        try (EngineGenerationService service = serve(ServerOptions.defaults().withLoadedModelsBytes(modelBytes / 2))) {
            ExecutionException e = assertThrows(ExecutionException.class, () -> service.load("switch").get(10, TimeUnit.SECONDS));
            assertTrue(e.getCause() instanceof GenerationException g && g.kind() == Kind.RESOURCE_EXHAUSTED, e.toString());
        }
    }

    @Test
    void aRequestForAModelNotLoadedStartsLoadingItUnlessItWasUnloaded() throws Exception {
        try (EngineGenerationService service = serve(ServerOptions.defaults())) {
            GenerationException first = assertThrows(GenerationException.class, () -> run(service, "hash"));
            assertEquals(Kind.UNAVAILABLE, first.kind());
            await(service, c -> c.get("hash").loaded());
            assertNull(run(service, "hash").error());
            service.unload("hash").get(10, TimeUnit.SECONDS);
            assertEquals(Kind.UNAVAILABLE, assertThrows(GenerationException.class, () -> run(service, "hash")).kind());
            Thread.sleep(50);
            assertFalse(cards(service).get("hash").loaded(), "an unloaded model is not loaded again on demand");
        }
        try (EngineGenerationService strict = serve(ServerOptions.defaults().withLoadOnDemand(false))) {
            assertEquals(Kind.UNAVAILABLE, assertThrows(GenerationException.class, () -> run(strict, "hash")).kind());
            Thread.sleep(50);
            assertFalse(cards(strict).get("hash").loaded());
        }
    }

    @Test
    void loadAndUnloadOfUnknownModelsFailWithNotFound() {
        try (EngineGenerationService service = serve(ServerOptions.defaults())) {
            ExecutionException load = assertThrows(ExecutionException.class, () -> service.load("nope").get(10, TimeUnit.SECONDS));
            assertTrue(load.getCause() instanceof GenerationException g && g.kind() == Kind.NOT_FOUND, load.toString());
            ExecutionException unload = assertThrows(ExecutionException.class, () -> service.unload("nope").get(10, TimeUnit.SECONDS));
            assertTrue(unload.getCause() instanceof GenerationException g && g.kind() == Kind.NOT_FOUND, unload.toString());
        }
    }
}
