package dev.switchback.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.client.Completion;
import dev.switchback.client.CompletionRequest;
import dev.switchback.client.SwitchbackClient;
import dev.switchback.client.SwitchbackException;
import dev.switchback.kernels.engine.Engine;
import dev.switchback.kernels.engine.Sequence;
import dev.switchback.kernels.engine.StepEngine;
import dev.switchback.store.ModelStore;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.PublishedModel;
import dev.switchback.store.TinyModels;
import dev.switchback.store.tokenizer.BpeTokenizer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code switchback serve} end to end: the real command, engine, scheduler, HTTP and gRPC front doors on loopback,
 * driven by the Java client; completions must equal the engine's own greedy continuation. Subclasses pick the
 * device ({@link ServeIntegrationTest}: the CPU; {@link ServeCudaIntegrationTest}: a GPU).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class ServeIntegrationBase {
    private static final int MAX_TOKENS = 12;

    private Path store;

    private ServeCommand serve;
    private Thread serving;
    private final int[] exit = {-1};
    private String http;
    private String grpc;
    private PublishedModel model;

    /** {@code serve --device} for this run. */
    abstract String device();

    /** The engine the expected greedy continuations are computed on (closed after each use). */
    abstract StepEngine engine(OpenedModel opened);

    /** Skips the class (an assumption) where its device is missing. */
    void assumeDevice() {}

    @BeforeAll
    void start(@TempDir Path dir) throws Exception {
        assumeDevice();
        store = dir;
        model = TinyModels.publishServable(new ModelStore(store), "tiny", 9);
        serve = new ServeCommand();
        CommandLine cli = new CommandLine(serve);
        serving = new Thread(() -> exit[0] = cli.execute("--store", store.toString(), "--host", "127.0.0.1", "--port", "0",
                "--grpc-port", "0", "--device", device()));
        serving.start();
        assertTrue(serve.up.await(60, TimeUnit.SECONDS), "server did not come up");
        http = "http://127.0.0.1:" + serve.server.port("http");
        grpc = "grpc://127.0.0.1:" + serve.server.port("grpc");
    }

    @AfterAll
    void stop() throws Exception {
        if (serve == null) {
            return; // skipped: no device
        }
        serve.stop.countDown();
        serving.join(30_000);
        assertEquals(0, exit[0], "serve exits cleanly after draining");
    }

    /** The greedy continuation computed directly on the engine. */
    private String engineGreedy(String prompt) throws Exception {
        try (OpenedModel opened = new ModelStore(store).open(model.dir()); StepEngine engine = engine(opened)) {
            BpeTokenizer tokenizer = BpeTokenizer.load(opened.tokenizerFile());
            List<Integer> ids = new ArrayList<>();
            try (Sequence seq = engine.newSequence()) {
                float[] logits = engine.prefill(seq, tokenizer.encode(prompt));
                for (int i = 0; i < MAX_TOKENS; i++) {
                    int next = 0;
                    for (int v = 1; v < logits.length; v++) {
                        next = logits[v] > logits[next] ? v : next;
                    }
                    if (next == tokenizer.endOfTextId()) {
                        break;
                    }
                    ids.add(next);
                    logits = engine.forward(List.of(new Engine.Step(seq, new int[] {next})))[0];
                }
            }
            return tokenizer.decode(ids.stream().mapToInt(Integer::intValue).toArray());
        }
    }

    @Test
    void httpAndGrpcCompletionsEqualTheEnginesGreedyOutput() throws Exception {
        String prompt = "And God called the light";
        String expected = engineGreedy(prompt);
        CompletionRequest request = CompletionRequest.of("tiny", prompt).withMaxTokens(MAX_TOKENS).withTemperature(0.0);
        for (String url : List.of(http, grpc)) {
            try (SwitchbackClient client = SwitchbackClient.connect(url)) {
                assertEquals(List.of("tiny"), client.models());
                Completion whole = client.complete(request);
                assertEquals(expected, whole.text(), url + " non-streaming");
                StringBuilder pieces = new StringBuilder();
                Completion streamed = client.stream(request, pieces::append);
                assertEquals(expected, pieces.toString(), url + " streamed pieces");
                assertEquals(expected, streamed.text(), url + " streamed");
                assertEquals(whole.usage(), streamed.usage(), url + " usage");
                assertTrue(whole.usage().completionTokens() >= 1 && whole.usage().completionTokens() <= MAX_TOKENS, url);
            }
        }
    }

    @Test
    void sixtyFourConcurrentStreamsAllCompleteWithTheirSoloResults() throws Exception {
        List<String> prompts = List.of("In the beginning", "And the earth", "darkness was upon", "the face of the waters");
        List<String> expected = new ArrayList<>();
        for (String p : prompts) {
            expected.add(engineGreedy(p));
        }
        double expertTokensBefore = expertTokens();
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
        int fed = 0;
        try (SwitchbackClient client = SwitchbackClient.connect(http)) {
            List<Future<Completion>> results = new ArrayList<>();
            List<StringBuilder> texts = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                String prompt = prompts.get(i % prompts.size());
                StringBuilder text = new StringBuilder();
                texts.add(text);
                results.add(pool.submit(() -> client.stream(
                        CompletionRequest.of("tiny", prompt).withMaxTokens(MAX_TOKENS).withTemperature(0.0), text::append)));
            }
            for (int i = 0; i < 64; i++) {
                Completion done = results.get(i).get(60, TimeUnit.SECONDS);
                assertEquals(expected.get(i % prompts.size()), texts.get(i).toString(), "stream " + i);
                Completion.Usage usage = done.usage();
                assertEquals(usage.promptTokens() + usage.completionTokens(), usage.totalTokens(), "usage adds up");
                assertTrue(usage.completionTokens() >= 1 && usage.completionTokens() <= MAX_TOKENS, "stream " + i + ": " + usage);
                // Every token but the last sampled one goes through the model once (prompts are shorter than a KV
                // block, so the prefix cache cannot skip any).
                fed += usage.promptTokens() + usage.completionTokens() - 1;
            }
        } finally {
            pool.shutdown();
        }
        String metrics = metricsText();
        assertTrue(metrics.contains("switchback_time_to_first_token_seconds"), "serving metrics exposed");
        // Each token fed meets the sparse block once: computed by its expert or dropped for capacity (the default
        // evaluation capacity factor does drop some in a prompt's prefill).
        assertEquals(fed, expertTokens() - expertTokensBefore, 0.0, "per-expert routed + dropped counters add up to the tokens fed");
    }

    private String metricsText() throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(http + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }

    /** Σ over experts of the routed and dropped token counters for the model's sparse block. */
    private double expertTokens() throws Exception {
        double sum = 0;
        for (String line : metricsText().lines().toList()) {
            boolean counter = line.startsWith("switchback_expert_tokens_total{") || line.startsWith("switchback_expert_dropped_tokens_total{");
            if (counter && line.contains("model=\"tiny\"")) {
                sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return sum;
    }

    @Test
    void badRequestsGetClearErrorsOverBothProtocols() {
        for (String url : List.of(http, grpc)) {
            try (SwitchbackClient client = SwitchbackClient.connect(url)) {
                SwitchbackException unknown = assertThrows(SwitchbackException.class,
                        () -> client.complete(CompletionRequest.of("nope", "In the").withMaxTokens(4)));
                assertEquals(404, unknown.status(), url + ": " + unknown.describe());
                SwitchbackException tooLong = assertThrows(SwitchbackException.class,
                        () -> client.complete(CompletionRequest.of("tiny", "In the").withMaxTokens(500)));
                assertEquals(400, tooLong.status(), url + ": " + tooLong.describe());
                assertTrue(tooLong.getMessage().contains("max_tokens"), tooLong.getMessage());
            }
        }
    }
}
