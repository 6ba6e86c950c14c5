package dev.switchback.server.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.kernels.engine.Engine;
import dev.switchback.kernels.sampling.SamplingParams;
import dev.switchback.server.generation.GenerationException;
import dev.switchback.server.generation.GenerationException.Kind;
import dev.switchback.server.generation.GenerationListener;
import dev.switchback.server.generation.GenerationRequest;
import dev.switchback.server.generation.GenerationService;
import dev.switchback.server.scheduler.Scheduler;
import dev.switchback.store.ModelStore;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A request's life apart from its tokens: refusal at submission, cancel, deadline, failing listeners, unload. */
class RequestLifecycleTest {
    static final String MODEL = "tiny-switch";
    static final String PROMPT = GenerationTest.PROMPT;

    @TempDir
    static Path root;
    static ModelStore store;
    static Engine reference;
    EngineGenerationService service;

    @BeforeAll
    static void publish() {
        store = new ModelStore(root);
        reference = ServableModels.engine(store, ServableModels.publish(store, MODEL, ServableModels.switchUnbounded(), 11));
    }

    @BeforeEach
    void serve() {
        serve(ServerOptions.defaults().withPrefixCacheBytes(0));
    }

    void serve(ServerOptions options) {
        if (service != null) {
            service.close();
        }
        service = new EngineGenerationService(store, options.withModels(List.of(MODEL)), new PrometheusRegistry());
        service.started().join();
    }

    @AfterEach
    void stop() {
        service.close();
    }

    GenerationService.Handle submit(String prompt, SamplingParams params, Recorder listener) {
        return service.submit(new GenerationRequest(MODEL, prompt, params, false, null), listener);
    }

    /** A listener slow enough that a request is still running when the test acts on it. */
    static final class Slow extends Recorder {
        @Override
        public void onToken(TokenPiece piece) {
            super.onToken(piece);
            try {
                Thread.sleep(3);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Test
    void cancelInsideTheListenerStopsOutputAndFreesTheBlocks() {
        AtomicReference<GenerationService.Handle> handle = new AtomicReference<>();
        Recorder r = new Recorder() {
            @Override
            public void onToken(TokenPiece piece) {
                super.onToken(piece);
                if (tokenCount() == 3) {
                    handle.get().cancel();
                }
            }
        };
        assertTrue(ServableModels.generate(reference, PROMPT, SamplingParams.greedy(60)).size() > 3);
        // The scheduler cannot reach the first token before the handle is set: onToken needs it.
        synchronized (r) {
            handle.set(submit(PROMPT, SamplingParams.greedy(60), r));
        }
        Scheduler.Stats idle = ServableModels.awaitIdle(service.scheduler(MODEL));
        assertEquals(idle.totalKvBlocks(), idle.freeKvBlocks());
        assertEquals(3, r.tokenCount(), "nothing after the cancel");
        assertFalse(r.isDone(), "a cancelled request hears no completion");
    }

    @Test
    void cancelFromAnotherThreadStopsOutputAndFreesTheBlocks() throws Exception {
        Slow r = new Slow();
        GenerationService.Handle h = submit(PROMPT, SamplingParams.greedy(100), r);
        while (r.tokenCount() < 2) {
            Thread.sleep(1);
        }
        h.cancel();
        Scheduler.Stats idle = ServableModels.awaitIdle(service.scheduler(MODEL));
        assertEquals(idle.totalKvBlocks(), idle.freeKvBlocks());
        int heard = r.tokenCount();
        Thread.sleep(30);
        assertEquals(heard, r.tokenCount());
        assertTrue(heard < 100);
        assertFalse(r.isDone());
    }

    @Test
    void aPassedDeadlineFailsTheRequestAndFreesItsBlocks() {
        Slow r = new Slow();
        service.submit(new GenerationRequest(MODEL, PROMPT, SamplingParams.greedy(100), false, Duration.ofMillis(60)), r);
        Recorder.Result result = r.await();
        assertNotNull(result.error());
        assertEquals(Kind.DEADLINE_EXCEEDED, result.error().kind());
        assertTrue(result.tokens().size() < 100);
        Scheduler.Stats idle = ServableModels.awaitIdle(service.scheduler(MODEL));
        assertEquals(idle.totalKvBlocks(), idle.freeKvBlocks());
    }

    @Test
    void theServerDefaultTimeoutAppliesToRequestsWithoutOne() {
        serve(ServerOptions.defaults().withRequestTimeout(Duration.ofMillis(60)));
        Slow r = new Slow();
        submit(PROMPT, SamplingParams.greedy(100), r);
        assertEquals(Kind.DEADLINE_EXCEEDED, r.await().error().kind());
    }

    @Test
    void aFullWaitingQueueRefusesWithResourceExhausted() throws Exception {
        serve(ServerOptions.defaults().withBatching(2, 1, 8, 8));
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Recorder blocking = new Recorder() {
            @Override
            public void onToken(TokenPiece piece) {
                super.onToken(piece);
                entered.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        };
        submit(PROMPT, SamplingParams.greedy(3), blocking);
        // The scheduler thread now waits inside the first request's listener: nothing more is admitted.
        assertTrue(entered.await(10, TimeUnit.SECONDS));
        List<Recorder> queued = List.of(new Recorder(), new Recorder());
        queued.forEach(q -> submit(PROMPT, SamplingParams.greedy(3), q));
        GenerationException e = assertThrows(GenerationException.class, () -> submit(PROMPT, SamplingParams.greedy(3), new Recorder()));
        assertEquals(Kind.RESOURCE_EXHAUSTED, e.kind());
        release.countDown();
        assertNull(blocking.await().error());
        queued.forEach(q -> assertNull(q.await().error()));
        submit(PROMPT, SamplingParams.greedy(3), new Recorder()); // room again
    }

    @Test
    void promptsAndMaxTokensThatDoNotFitAreRefusedNamingTheField() {
        GenerationException empty = assertThrows(GenerationException.class, () -> submit("", SamplingParams.greedy(4), new Recorder()));
        assertEquals(Kind.INVALID_ARGUMENT, empty.kind());
        assertEquals("prompt", empty.param());
        String longPrompt = (PROMPT + " ").repeat(20);
        GenerationException tooLong = assertThrows(GenerationException.class,
                () -> submit(longPrompt, SamplingParams.greedy(4), new Recorder()));
        assertEquals(Kind.INVALID_ARGUMENT, tooLong.kind());
        assertEquals("prompt", tooLong.param());
        assertTrue(tooLong.getMessage().contains("context of " + ServableModels.CONTEXT), tooLong.getMessage());
        int promptTokens = ServableModels.tokenizer().encode(PROMPT).length;
        GenerationException tooMany = assertThrows(GenerationException.class,
                () -> submit(PROMPT, SamplingParams.greedy(ServableModels.CONTEXT - promptTokens + 1), new Recorder()));
        assertEquals(Kind.INVALID_ARGUMENT, tooMany.kind());
        assertEquals("max_tokens", tooMany.param());
        Recorder exact = new Recorder();
        submit(PROMPT, SamplingParams.greedy(ServableModels.CONTEXT - promptTokens), exact);
        Recorder.Result r = exact.await();
        assertNull(r.error(), "a completion may fill the context exactly");
        assertTrue(r.completion().usage().totalTokens() <= ServableModels.CONTEXT);
    }

    /**
     * A request that left max_tokens out carries the server's default, which may not fit beside a long prompt: it is
     * lowered to the room the context leaves (generation stops at the context's end), not refused; a client's own
     * value that does not fit is still refused.
     */
    @Test
    void aDefaultedMaxTokensIsLoweredToTheRoomTheContextLeaves() {
        int promptTokens = ServableModels.tokenizer().encode(PROMPT).length;
        SamplingParams tooMany = SamplingParams.greedy(ServableModels.CONTEXT);
        Recorder defaulted = new Recorder();
        service.submit(new GenerationRequest(MODEL, PROMPT, tooMany, false, null, true), defaulted);
        Recorder.Result r = defaulted.await();
        assertNull(r.error(), "a default that does not fit is lowered");
        assertTrue(r.completion().usage().totalTokens() <= ServableModels.CONTEXT, r.completion().toString());
        if (r.completion().reason() == GenerationListener.FinishReason.LENGTH) {
            assertEquals(ServableModels.CONTEXT - promptTokens, r.completion().usage().completionTokens(),
                    "a length stop comes at the end of the context");
        }
        GenerationException given = assertThrows(GenerationException.class,
                () -> service.submit(new GenerationRequest(MODEL, PROMPT, tooMany, false, null, false), new Recorder()));
        assertEquals("max_tokens", given.param());
    }

    @Test
    void anUnknownModelIsNotFound() {
        for (String name : List.of("no-such-model", "../escape", "tiny-switch:9")) {
            GenerationException e = assertThrows(GenerationException.class,
                    () -> service.submit(new GenerationRequest(name, PROMPT, SamplingParams.greedy(4), false, null), new Recorder()));
            assertEquals(Kind.NOT_FOUND, e.kind(), name);
            assertEquals("model", e.param());
        }
    }

    @Test
    void aThrowingListenerLosesOnlyItsOwnRequest() {
        Recorder failing = Recorder.throwingAt(2);
        List<Recorder> others = new ArrayList<>();
        submit(PROMPT, SamplingParams.greedy(30), failing);
        for (int i = 0; i < 4; i++) {
            Recorder r = new Recorder();
            submit(GenerationTest.prompt(i), SamplingParams.greedy(20), r);
            others.add(r);
        }
        for (int i = 0; i < 4; i++) {
            assertEquals(ServableModels.generate(reference, GenerationTest.prompt(i), SamplingParams.greedy(20)),
                    others.get(i).await().tokens());
        }
        Scheduler.Stats idle = ServableModels.awaitIdle(service.scheduler(MODEL));
        assertEquals(idle.totalKvBlocks(), idle.freeKvBlocks());
        assertEquals(2, failing.tokenCount());
        assertFalse(failing.isDone());
        assertNull(run(PROMPT).error(), "the scheduler still serves");
    }

    @Test
    void unloadLetsInFlightRequestsFinishAndRefusesNewOnes() throws Exception {
        Slow inFlight = new Slow();
        submit(PROMPT, SamplingParams.greedy(40), inFlight);
        while (inFlight.tokenCount() == 0) {
            Thread.sleep(1);
        }
        CompletableFuture<Void> unload = service.unload(MODEL);
        GenerationException refused = assertThrows(GenerationException.class,
                () -> submit(PROMPT, SamplingParams.greedy(4), new Recorder()));
        assertEquals(Kind.UNAVAILABLE, refused.kind());
        assertFalse(unload.isDone(), "unload waits for the request in flight");
        Recorder.Result r = inFlight.await();
        assertNull(r.error());
        assertEquals(ServableModels.generate(reference, PROMPT, SamplingParams.greedy(40)), r.tokens());
        unload.get(10, TimeUnit.SECONDS);
        GenerationException after = assertThrows(GenerationException.class,
                () -> submit(PROMPT, SamplingParams.greedy(4), new Recorder()));
        assertEquals(Kind.UNAVAILABLE, after.kind());
        assertFalse(service.models().stream().filter(m -> m.name().equals(MODEL)).findFirst().orElseThrow().loaded());
        assertNull(service.scheduler(MODEL));
        service.load(MODEL).get(10, TimeUnit.SECONDS);
        assertNull(run(PROMPT).error(), "loaded again, it serves again");
    }

    @Test
    void shutdownFinishesRunningRequestsWithinTheGrace() {
        Recorder r = new Recorder();
        submit(PROMPT, SamplingParams.greedy(20), r);
        service.shutdown(Duration.ofSeconds(10));
        Recorder.Result result = r.await();
        assertNull(result.error());
        assertEquals(ServableModels.generate(reference, PROMPT, SamplingParams.greedy(20)), result.tokens());
        assertFalse(service.ready());
        GenerationException e = assertThrows(GenerationException.class, () -> submit(PROMPT, SamplingParams.greedy(4), new Recorder()));
        assertEquals(Kind.UNAVAILABLE, e.kind());
    }

    @Test
    void shutdownPastTheGraceFailsWhatIsLeftWithUnavailable() {
        Slow r = new Slow();
        submit(PROMPT, SamplingParams.greedy(100), r);
        service.shutdown(Duration.ofMillis(20));
        Recorder.Result result = r.await();
        assertNotNull(result.error());
        assertEquals(Kind.UNAVAILABLE, result.error().kind());
    }

    private Recorder.Result run(String prompt) {
        Recorder r = new Recorder();
        submit(prompt, SamplingParams.greedy(5), r);
        return r.await();
    }
}
