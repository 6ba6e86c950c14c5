package dev.switchback.server.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.kernels.engine.Engine;
import dev.switchback.kernels.kv.KvFormat;
import dev.switchback.kernels.sampling.SamplingParams;
import dev.switchback.server.generation.GenerationListener.FinishReason;
import dev.switchback.server.generation.GenerationRequest;
import dev.switchback.server.scheduler.Scheduler;
import dev.switchback.store.ModelStore;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.tokenizer.BpeTokenizer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the service generates equals what a plain loop on the engine generates, however requests are batched. */
class GenerationTest {
    static final String MODEL = "tiny-switch";
    static final String BIGRAM = "tiny-bigram";
    static final String PROMPT = "The scheduler computed one token for every sequence";

    @TempDir
    static Path root;
    static ModelStore store;
    static Path modelDir;
    static Engine reference;
    static Engine bigramReference;
    static BpeTokenizer tokenizer;

    @BeforeAll
    static void publish() {
        store = new ModelStore(root);
        modelDir = ServableModels.publish(store, MODEL, ServableModels.switchUnbounded(), 11);
        reference = ServableModels.engine(store, modelDir);
        bigramReference = ServableModels.engine(store, ServableModels.publish(store, BIGRAM,
                new Architecture.Hash(4, 1, Architecture.HashKind.bigram, 7, 0.0), 13));
        tokenizer = ServableModels.tokenizer();
    }

    static EngineGenerationService serve(ServerOptions options) {
        EngineGenerationService service = new EngineGenerationService(store, options.withModels(List.of(MODEL)),
                new PrometheusRegistry());
        service.started().join();
        return service;
    }

    static Recorder.Result run(EngineGenerationService service, String prompt, SamplingParams params) {
        return run(service, MODEL, prompt, params);
    }

    static Recorder.Result run(EngineGenerationService service, String model, String prompt, SamplingParams params) {
        Recorder r = new Recorder();
        service.submit(new GenerationRequest(model, prompt, params, false, null), r);
        return r.await();
    }

    /** Prompts of different lengths drawn from the tokenizer's corpus words. */
    static String prompt(int i) {
        String[] words = "the server loaded its models and every request waited in queue until scheduler admitted it into running batch experts were chosen by router".split(" ");
        StringBuilder s = new StringBuilder("In the beginning");
        for (int w = 0; w < 2 + (i * 7) % 23; w++) {
            s.append(' ').append(words[(i * 5 + w * 3) % words.length]);
        }
        return s.toString();
    }

    @Test
    void greedyCompletionEqualsAPlainEngineLoop() {
        SamplingParams greedy = SamplingParams.greedy(40);
        List<Integer> expected = ServableModels.generate(reference, PROMPT, greedy);
        try (EngineGenerationService service = serve(ServerOptions.defaults())) {
            assertTrue(service.ready());
            Recorder.Result r = run(service, PROMPT, greedy);
            assertNull(r.error());
            assertEquals(expected, r.tokens());
            assertEquals(tokenizer.decode(expected.stream().filter(t -> t != tokenizer.endOfTextId()).mapToInt(Integer::intValue).toArray()),
                    r.text());
            assertEquals(tokenizer.encode(PROMPT).length, r.completion().usage().promptTokens());
            assertEquals(expected.size(), r.completion().usage().completionTokens());
            FinishReason reason = expected.getLast() == tokenizer.endOfTextId() ? FinishReason.STOP : FinishReason.LENGTH;
            assertEquals(reason, r.completion().reason());
        }
    }

    /** With a BF16 KV cache, batched and prefix-shared requests get what an engine loop with that cache gets. */
    @Test
    void aBf16KvCacheServesWhatAnEngineWithOneGenerates() throws Exception {
        Engine bf16Reference;
        try (OpenedModel opened = store.open(modelDir)) {
            bf16Reference = Engine.load(opened, Engine.Options.defaults().withMaxSequences(2).withKvFormat(KvFormat.BF16));
        }
        List<List<Integer>> expected = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            expected.add(ServableModels.generate(bf16Reference, PROMPT + " " + prompt(i), SamplingParams.greedy(24)));
        }
        try (EngineGenerationService service = serve(ServerOptions.defaults().withKvFormat(KvFormat.BF16))) {
            List<Recorder> recorders = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                Recorder r = new Recorder();
                service.submit(new GenerationRequest(MODEL, PROMPT + " " + prompt(i), SamplingParams.greedy(24), false, null), r);
                recorders.add(r);
            }
            for (int i = 0; i < 6; i++) {
                Recorder.Result r = recorders.get(i).await();
                assertNull(r.error(), "request " + i);
                assertEquals(expected.get(i), r.tokens(), "request " + i);
            }
            int f32Blocks = ServerOptions.defaults().kvBlocksFor(ServableModels.config(ServableModels.switchUnbounded()));
            assertEquals(2 * f32Blocks, service.scheduler(MODEL).stats().totalKvBlocks(), "the pool holds BF16 blocks");
        }
    }

    @Test
    void seededSampledCompletionIsReproducibleAloneAndInABatch() {
        SamplingParams sampled = new SamplingParams(0.9, 0, 0.95, 1.1, 42L, 30, List.of());
        List<Integer> expected = ServableModels.generate(reference, PROMPT, sampled);
        try (EngineGenerationService service = serve(ServerOptions.defaults())) {
            assertEquals(expected, run(service, PROMPT, sampled).tokens());
            List<Recorder> others = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                Recorder o = new Recorder();
                service.submit(new GenerationRequest(MODEL, prompt(i), sampled.withSeed((long) i), false, null), o);
                others.add(o);
            }
            assertEquals(expected, run(service, PROMPT, sampled).tokens());
            others.forEach(Recorder::await);
        }
        assertTrue(!expected.equals(ServableModels.generate(reference, PROMPT, sampled.withSeed(7L))),
                "another seed draws another completion");
    }

    @Test
    void sixtyFourConcurrentRequestsEachEqualTheirSoloResult() throws Exception {
        int n = 64;
        List<List<Integer>> expected = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            expected.add(ServableModels.generate(reference, prompt(i), SamplingParams.greedy(5 + i % 30)));
        }
        List<Recorder> recorders = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            recorders.add(new Recorder());
        }
        try (EngineGenerationService service = serve(ServerOptions.defaults().withBatching(256, 16, 64, 16));
                ExecutorService clients = Executors.newFixedThreadPool(4)) {
            for (int c = 0; c < 4; c++) {
                int client = c;
                clients.submit(() -> {
                    for (int i = client; i < n; i += 4) {
                        service.submit(new GenerationRequest(MODEL, prompt(i), SamplingParams.greedy(5 + i % 30), false, null),
                                recorders.get(i));
                    }
                });
            }
            for (int i = 0; i < n; i++) {
                Recorder.Result r = recorders.get(i).await();
                assertNull(r.error(), "request " + i);
                assertEquals(expected.get(i), r.tokens(), "request " + i);
                assertEquals(tokenizer.encode(prompt(i)).length, r.completion().usage().promptTokens(), "request " + i);
                assertEquals(expected.get(i).size(), r.completion().usage().completionTokens(), "request " + i);
            }
            int generated = expected.stream().mapToInt(List::size).sum();
            Scheduler.Stats stats = service.scheduler(MODEL).stats();
            assertTrue(stats.steps() < generated / 2, "requests shared forward steps: " + stats.steps() + " steps for "
                    + generated + " tokens");
        }
    }

    @Test
    void aTinyKvPoolPreemptsYetLeavesEveryOutputUnchanged() {
        int n = 8;
        // Half greedy, half sampled: a preempted request recomputes its tokens but keeps its random stream.
        List<SamplingParams> params = new ArrayList<>();
        List<List<Integer>> expected = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            SamplingParams p = i % 2 == 0 ? SamplingParams.greedy(30) : new SamplingParams(0.8, 40, 0.9, 1.0, (long) i, 30, List.of());
            params.add(p);
            expected.add(ServableModels.generate(reference, prompt(i), p));
            assertTrue(tokenizer.encode(prompt(i)).length + 30 <= 4 * 32, "request " + i + " fits the pool alone");
        }
        // 32 blocks of 4 positions: each request fits alone, eight together need several times more.
        ServerOptions tight = ServerOptions.defaults().withBatching(64, 8, 64, 8).withKvBlocks(4, 32).withPrefixCacheBytes(8 << 10);
        try (EngineGenerationService service = serve(tight)) {
            List<Recorder> recorders = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                Recorder r = new Recorder();
                service.submit(new GenerationRequest(MODEL, prompt(i), params.get(i), false, null), r);
                recorders.add(r);
            }
            for (int i = 0; i < n; i++) {
                Recorder.Result r = recorders.get(i).await();
                assertNull(r.error(), "request " + i);
                assertEquals(expected.get(i), r.tokens(), "request " + i);
            }
            Scheduler.Stats stats = ServableModels.awaitIdle(service.scheduler(MODEL));
            assertTrue(stats.preemptions() > 0, "the pool was small enough to force preemption");
            assertEquals(stats.totalKvBlocks(), stats.freeKvBlocks() + stats.prefixCachedBlocks(), "every block is back");
        }
    }

    @Test
    void aRepeatedPromptReusesCachedBlocksAndGeneratesTheSame() {
        String longPrompt = PROMPT + " then chunks of prompts, and the newest sequence was preempted and recomputed later";
        assertTrue(tokenizer.encode(longPrompt).length > 32, "the prompt spans at least two 16-token blocks");
        PrometheusRegistry registry = new PrometheusRegistry();
        try (EngineGenerationService service = new EngineGenerationService(store,
                ServerOptions.defaults().withModels(List.of(MODEL, BIGRAM)), registry)) {
            service.started().join();
            // Bigram hash routing reads the token before each position: the first one after a cached prefix too.
            for (String model : List.of(MODEL, BIGRAM)) {
                Engine engine = model.equals(MODEL) ? reference : bigramReference;
                Recorder.Result first = run(service, model, longPrompt, SamplingParams.greedy(20));
                double hitsBefore = MetricsTest.value(registry, "switchback_prefix_cache_hit_tokens_total", "model", model);
                Recorder.Result second = run(service, model, longPrompt, SamplingParams.greedy(20));
                double hits = MetricsTest.value(registry, "switchback_prefix_cache_hit_tokens_total", "model", model) - hitsBefore;
                assertEquals(0, hitsBefore);
                // Whole blocks only, and never the last prompt token: its logits must be computed.
                assertEquals((tokenizer.encode(longPrompt).length - 1) / 16 * 16, hits, 0, model + ": cached prompt blocks");
                assertEquals(first.tokens(), second.tokens(), model);
                assertEquals(ServableModels.generate(engine, longPrompt, SamplingParams.greedy(20)), second.tokens(), model);
                assertTrue(MetricsTest.value(registry, "switchback_prefix_cache_hit_ratio", "model", model) > 0);
            }
        }
    }

    @Test
    void aStopStringEndsTheCompletionWithoutAppearingInIt() {
        String full;
        try (EngineGenerationService service = serve(ServerOptions.defaults())) {
            full = run(service, PROMPT, SamplingParams.greedy(40)).text();
            assertTrue(full.length() > 14, "the completion is long enough to hold a stop string: " + full);
            String stop = full.substring(10, 13);
            Recorder.Result r = run(service, PROMPT, SamplingParams.greedy(40).withStop(List.of("never appears", stop)));
            assertEquals(FinishReason.STOP, r.completion().reason());
            assertEquals(full.substring(0, full.indexOf(stop)), r.text());
            assertTrue(r.completion().usage().completionTokens() < 40);
        }
    }
}
