package dev.switchback.server.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.kernels.engine.Engine;
import dev.switchback.kernels.engine.StepEngine;
import dev.switchback.kernels.sampling.SamplingParams;
import dev.switchback.server.generation.GenerationException;
import dev.switchback.server.generation.GenerationException.Kind;
import dev.switchback.server.generation.GenerationListener.TokenPiece;
import dev.switchback.server.generation.GenerationRequest;
import dev.switchback.server.metrics.ServingMetrics;
import dev.switchback.server.models.Recorder;
import dev.switchback.server.models.ServableModels;
import dev.switchback.server.onnx.Parity;
import dev.switchback.store.ModelStore;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The scheduler against its model runner: what each forward step holds, and an engine that fails. */
class SchedulerTest {
    static final String PROMPT = "The scheduler computed one token for every sequence";

    @TempDir
    static Path root;
    static ModelStore store;
    static Path dir;
    static Engine reference;

    @BeforeAll
    static void publish() {
        store = new ModelStore(root);
        dir = ServableModels.publish(store, "m", ServableModels.switchUnbounded(), 11);
        reference = ServableModels.engine(store, dir);
    }

    static Scheduler scheduler(Scheduler.ModelRunner runner, Engine engine, SchedulerOptions options) {
        return new Scheduler("m", engine, runner, ServableModels.tokenizer(), options,
                new ServingMetrics(new PrometheusRegistry()).forModel("m", List.of(1), 4)).start();
    }

    static Recorder submit(Scheduler s, String prompt, int maxTokens) {
        Recorder r = new Recorder();
        s.submit(new GenerationRequest("m", prompt, SamplingParams.greedy(maxTokens), false, null), r, () -> {});
        return r;
    }

    @Test
    void longPromptsArriveInChunksBesideEveryDecodeUnderTheTokenBudget() throws Exception {
        Engine engine = ServableModels.engine(store, dir);
        List<int[]> calls = new CopyOnWriteArrayList<>(); // tokens per step, per forward call
        CountDownLatch longPromptQueued = new CountDownLatch(1);
        Scheduler s = scheduler((steps, greedy, tokens) -> {
            calls.add(steps.stream().mapToInt(st -> st.tokens().length).toArray());
            if (calls.size() == 3) { // hold the decode here so it cannot finish before the long prompt is queued
                awaitQuietly(longPromptQueued);
            }
            float[][] logits = engine.forward(steps);
            return () -> logits;
        }, engine, new SchedulerOptions(16, 2, 9, 8, 0, Duration.ZERO));
        try {
            Recorder decoding = submit(s, "In the beginning", 60);
            String longPrompt = (PROMPT + " ").repeat(2) + "then chunks of prompts";
            assertTrue(ServableModels.tokenizer().encode(longPrompt).length > 40);
            while (calls.size() < 3) {
                Thread.sleep(1);
            }
            Recorder prefilling = submit(s, longPrompt, 5);
            longPromptQueued.countDown();
            assertEquals(ServableModels.generate(reference, longPrompt, SamplingParams.greedy(5)), prefilling.await().tokens());
            assertEquals(ServableModels.generate(reference, "In the beginning", SamplingParams.greedy(60)), decoding.await().tokens());
            int chunkCalls = 0;
            for (int[] call : calls) {
                int total = 0;
                boolean chunk = false;
                boolean decode = false;
                for (int n : call) {
                    total += n;
                    chunk |= n > 1;
                    decode |= n == 1;
                    assertTrue(n <= 8, "a prompt chunk is at most prefillChunk tokens");
                }
                assertTrue(total <= 9, "a step computes at most the token budget");
                if (chunk && call.length == 2) {
                    assertTrue(decode, "the decoding sequence kept its token in every step");
                    chunkCalls++;
                }
            }
            assertTrue(chunkCalls >= 5, "the long prompt took several chunked steps: " + chunkCalls);
        } finally {
            s.drain().join();
        }
    }

    static void awaitQuietly(CountDownLatch latch) {
        try {
            if (!latch.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the test never released the runner");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Test
    void anEngineFailureFailsOnlyItsBatchAndTheSchedulerKeepsServing() {
        Engine engine = ServableModels.engine(store, dir);
        AtomicInteger forwardCalls = new AtomicInteger();
        Scheduler s = scheduler((steps, greedy, tokens) -> {
            if (forwardCalls.incrementAndGet() == 4) {
                throw new IllegalStateException("device lost");
            }
            float[][] logits = engine.forward(steps);
            return () -> logits;
        }, engine, new SchedulerOptions(16, 4, 64, 64, 0, Duration.ZERO));
        try {
            List<Recorder> batch = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                batch.add(submit(s, PROMPT, 20));
            }
            int failed = 0;
            for (Recorder r : batch) {
                Recorder.Result result = r.await();
                if (result.error() != null) {
                    assertEquals(Kind.INTERNAL, result.error().kind());
                    failed++;
                }
            }
            assertTrue(failed > 0, "the failed step's requests were told");
            Recorder after = submit(s, PROMPT, 20);
            assertEquals(ServableModels.generate(reference, PROMPT, SamplingParams.greedy(20)), after.await().tokens());
            Scheduler.Stats idle = ServableModels.awaitIdle(s);
            assertEquals(idle.totalKvBlocks(), idle.freeKvBlocks(), "failed requests gave their blocks back");
        } finally {
            s.drain().join();
        }
    }

    /** A runner standing in for a GPU engine: rows marked greedy get the argmax as their token and no logits. */
    static Scheduler.ModelRunner picking(Engine engine, AtomicInteger marked, AtomicInteger unmarked, int badPickAtCall) {
        AtomicInteger calls = new AtomicInteger();
        return (steps, greedy, tokens) -> {
            float[][] logits = engine.forward(steps);
            boolean bad = calls.incrementAndGet() == badPickAtCall;
            for (int i = 0; i < logits.length; i++) {
                if (greedy[i]) {
                    marked.incrementAndGet();
                    tokens[i] = bad ? logits[i].length : Parity.argmax(logits[i]);
                    logits[i] = null;
                } else {
                    unmarked.incrementAndGet();
                }
            }
            return () -> logits;
        };
    }

    static Recorder submit(Scheduler s, String prompt, SamplingParams params, boolean logprobs) {
        Recorder r = new Recorder();
        s.submit(new GenerationRequest("m", prompt, params, logprobs, null), r, () -> {});
        return r;
    }

    @Test
    void onlyGreedyRowsWithoutLogprobsTakeTheEnginesPickAndEveryRequestGetsItsOwnTokens() {
        Engine engine = ServableModels.engine(store, dir);
        AtomicInteger marked = new AtomicInteger();
        AtomicInteger unmarked = new AtomicInteger();
        Scheduler s = scheduler(picking(engine, marked, unmarked, -1), engine, new SchedulerOptions(16, 4, 64, 64, 0, Duration.ZERO));
        SamplingParams warm = new SamplingParams(0.8, 0, 1.0, 1.0, 5L, 20, List.of());
        SamplingParams penalised = new SamplingParams(0, 0, 1.0, 1.3, null, 20, List.of());
        try {
            Recorder picked = submit(s, PROMPT, 20);
            Recorder withLogprobs = submit(s, PROMPT, SamplingParams.greedy(20), true);
            Recorder sampled = submit(s, PROMPT, warm, false);
            Recorder repeated = submit(s, PROMPT, penalised, false);
            List<Integer> greedy = ServableModels.generate(reference, PROMPT, SamplingParams.greedy(20));
            assertEquals(greedy, picked.await().tokens());
            assertEquals(greedy, withLogprobs.await().tokens());
            assertEquals(ServableModels.generate(reference, PROMPT, warm), sampled.await().tokens());
            assertEquals(ServableModels.generate(reference, PROMPT, penalised), repeated.await().tokens());
            // Each request samples 20 times, each time on a row of its own: only the plain greedy one's are marked.
            assertEquals(20, marked.get(), "rows left to the engine's argmax");
            assertEquals(60, unmarked.get(), "rows whose sampler needs the logits");
        } finally {
            s.drain().join();
        }
    }

    @Test
    void anInvalidPickFailsOnlyItsRequest() {
        Engine engine = ServableModels.engine(store, dir);
        Scheduler s = scheduler(picking(engine, new AtomicInteger(), new AtomicInteger(), 3), engine,
                new SchedulerOptions(16, 4, 64, 64, 0, Duration.ZERO));
        SamplingParams warm = new SamplingParams(0.8, 0, 1.0, 1.0, 9L, 12, List.of());
        try {
            Recorder picked = submit(s, PROMPT, 12);
            Recorder sampled = submit(s, PROMPT, warm, false);
            Recorder.Result failed = picked.await();
            assertNotNull(failed.error(), "the request whose pick was out of the vocab");
            assertEquals(Kind.INTERNAL, failed.error().kind());
            assertTrue(failed.error().getMessage().contains("NaN logits"), failed.error().getMessage());
            assertEquals(2, failed.tokens().size(), "the tokens before the bad pick were streamed");
            assertEquals(ServableModels.generate(reference, PROMPT, warm), sampled.await().tokens());
            Scheduler.Stats idle = ServableModels.awaitIdle(s);
            assertEquals(idle.totalKvBlocks(), idle.freeKvBlocks(), "the failed request gave its blocks back");
        } finally {
            s.drain().join();
        }
    }

    /** A runner standing in for a GPU's asynchronous steps: launched steps count as in flight until awaited. */
    static Scheduler.ModelRunner overlapping(Engine engine, AtomicBoolean inFlight) {
        return (steps, greedy, tokens) -> {
            inFlight.set(true);
            return new StepEngine.Launched() {
                @Override
                public float[][] await() {
                    inFlight.set(false);
                    return engine.forward(steps);
                }

                @Override
                public boolean running() {
                    return true;
                }
            };
        };
    }

    @Test
    void tokensOfAStepReachTheListenersWhileTheNextStepComputes() {
        Engine engine = ServableModels.engine(store, dir);
        AtomicBoolean inFlight = new AtomicBoolean();
        Scheduler s = scheduler(overlapping(engine, inFlight), engine, new SchedulerOptions(16, 4, 64, 64, 0, Duration.ZERO));
        List<Boolean> duringStep = new CopyOnWriteArrayList<>();
        Recorder watched = new Recorder() {
            @Override
            public void onToken(TokenPiece piece) {
                duringStep.add(inFlight.get());
                super.onToken(piece);
            }
        };
        Recorder failing = Recorder.throwingAt(3);
        try {
            s.submit(new GenerationRequest("m", PROMPT, SamplingParams.greedy(12), false, null), watched, () -> {});
            Recorder.Result result = watched.await();
            assertEquals(ServableModels.generate(reference, PROMPT, SamplingParams.greedy(12)), result.tokens());
            assertNotNull(result.completion());
            // Alone in the scheduler, every token but the last is delivered after the next step was launched and before
            // it was awaited; the last one when there is no step left to launch.
            List<Boolean> expected = new ArrayList<>(java.util.Collections.nCopies(11, true));
            expected.add(false);
            assertEquals(expected, duringStep);

            Recorder other = new Recorder();
            s.submit(new GenerationRequest("m", PROMPT, SamplingParams.greedy(30), false, null), failing, () -> {});
            s.submit(new GenerationRequest("m", PROMPT, SamplingParams.greedy(20), false, null), other, () -> {});
            assertEquals(ServableModels.generate(reference, PROMPT, SamplingParams.greedy(20)), other.await().tokens());
            Scheduler.Stats idle = ServableModels.awaitIdle(s);
            assertEquals(idle.totalKvBlocks(), idle.freeKvBlocks(), "the failed listener's request gave its blocks back");
            assertEquals(3, failing.tokenCount(), "a listener that threw hears nothing more");
            assertFalse(failing.isDone());
        } finally {
            s.drain().join();
        }
    }

    @Test
    void anIdleSchedulerWaitsInsteadOfSpinning() throws Exception {
        Engine engine = ServableModels.engine(store, dir);
        Scheduler s = new Scheduler("idle-check", engine, ServableModels.tokenizer(), new SchedulerOptions(16, 4, 64, 64, 0,
                Duration.ZERO), new ServingMetrics(new PrometheusRegistry()).forModel("idle-check", List.of(1), 4)).start();
        try {
            Thread thread = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().equals("scheduler-idle-check")).findFirst().orElseThrow();
            for (int i = 0; i < 2000 && thread.getState() != Thread.State.WAITING; i++) {
                Thread.sleep(1);
            }
            assertEquals(Thread.State.WAITING, thread.getState());
            long steps = s.stats().steps();
            Thread.sleep(20);
            assertEquals(steps, s.stats().steps());
            assertEquals(Thread.State.WAITING, thread.getState(), "still parked with nothing to do");
        } finally {
            s.drain().join();
        }
    }

    @Test
    void drainFinishesAcceptedRequestsThenRefusesWithUnavailable() {
        Engine engine = ServableModels.engine(store, dir);
        Scheduler s = scheduler(engine::launch, engine, new SchedulerOptions(16, 4, 64, 64, 0, Duration.ZERO));
        Recorder accepted = submit(s, PROMPT, 20);
        CompletableFuture<Void> drained = s.drain();
        assertNull(accepted.await().error());
        drained.join();
        GenerationException e = assertThrows(GenerationException.class, () -> submit(s, PROMPT, 5));
        assertEquals(Kind.UNAVAILABLE, e.kind());
        assertNotNull(s.stats());
    }
}
