package dev.switchback.cli;

import dev.switchback.client.Completion;
import dev.switchback.client.CompletionRequest;
import dev.switchback.client.SwitchbackClient;
import dev.switchback.kernels.sampling.SamplingParams;
import dev.switchback.server.SwitchbackServer;
import dev.switchback.server.generation.GenerationException;
import dev.switchback.server.generation.GenerationListener;
import dev.switchback.server.generation.GenerationRequest;
import dev.switchback.server.http.HttpServerOptions;
import dev.switchback.server.models.EngineGenerationService;
import dev.switchback.server.models.ServerOptions;
import dev.switchback.store.ModelStore;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code switchback bench server}: generated tokens/s of a server on loopback with N concurrent streams against N
 * sequential requests (what continuous batching buys), and against the same N generations submitted in-process
 * (what HTTP and SSE cost).
 */
@Command(name = "server", mixinStandardHelpOptions = true,
        description = "Server throughput: concurrent vs sequential streams over HTTP+SSE, and HTTP vs in-process.")
final class ServerBench implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--store", paramLabel = "DIR", description = "Model store (default: $SWITCHBACK_STORE or ./store).")
    Path store;

    @Option(names = "--model", required = true, paramLabel = "NAME")
    String model;

    @Option(names = "--streams", defaultValue = "16", paramLabel = "N", description = "Concurrent streams (default: ${DEFAULT-VALUE}).")
    int streams;

    @Option(names = "--max-tokens", defaultValue = "64", paramLabel = "N")
    int maxTokens;

    @Option(names = "--rounds", defaultValue = "3", paramLabel = "N", description = "Best of N rounds (default: ${DEFAULT-VALUE}).")
    int rounds;

    private static final List<String> PROMPTS = List.of("In the beginning God created", "And the LORD spake unto Moses, saying,",
            "Blessed are the", "For God so loved the world, that he gave", "And it came to pass", "Thou shalt not",
            "The LORD is my shepherd;", "And Jesus answered and said unto them,");

    @Override
    public Integer call() throws Exception {
        if (streams < 1 || maxTokens < 1 || rounds < 1) {
            throw new IllegalArgumentException("--streams, --max-tokens and --rounds must be >= 1");
        }
        PrintWriter out = spec.commandLine().getOut();
        ModelStore s = new ModelStore(store != null ? store : Defaults.store());
        PrometheusRegistry registry = new PrometheusRegistry();
        ServerOptions options = ServerOptions.defaults().withModels(List.of(model))
                .withBatching(Math.max(256, streams), Math.max(16, streams), Math.max(512, streams), 256);
        EngineGenerationService service = new EngineGenerationService(s, options, registry);
        try (SwitchbackServer server = new SwitchbackServer(service, registry,
                new SwitchbackServer.Options(0, HttpServerOptions.defaults().withHost("127.0.0.1"), Duration.ofSeconds(5)))) {
            server.start();
            service.started().get();
            String url = "http://127.0.0.1:" + server.port("http");
            ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
            try (SwitchbackClient client = SwitchbackClient.connect(url)) {
                // Warm-up: JIT, KV blocks, connections.
                runConcurrent(client, pool);
                runSequential(client);
                double sequential = 0;
                double concurrent = 0;
                double inProcess = 0;
                for (int r = 0; r < rounds; r++) {
                    sequential = Math.max(sequential, runSequential(client));
                    concurrent = Math.max(concurrent, runConcurrent(client, pool));
                    inProcess = Math.max(inProcess, runInProcess(service));
                }
                out.printf(Locale.ROOT, "model %s, %d streams, up to %d tokens each, best of %d rounds, %d cores%n", model, streams,
                        maxTokens, rounds, Runtime.getRuntime().availableProcessors());
                out.println("| measurement | generated tokens/s | ratio |");
                out.println("|---|---:|---:|");
                out.printf(Locale.ROOT, "| %d sequential HTTP+SSE requests | %.1f | 1.00× |%n", streams, sequential);
                out.printf(Locale.ROOT, "| %d concurrent HTTP+SSE streams | %.1f | %.2f× sequential |%n", streams, concurrent,
                        concurrent / sequential);
                out.printf(Locale.ROOT, "| %d concurrent in-process generations | %.1f | HTTP+SSE overhead %.1f%% |%n", streams,
                        inProcess, 100 * (1 - concurrent / inProcess));
                out.flush();
            } finally {
                pool.shutdown();
            }
        }
        return 0;
    }

    private CompletionRequest request(int i) {
        return CompletionRequest.of(model, PROMPTS.get(i % PROMPTS.size())).withMaxTokens(maxTokens).withTemperature(0.0);
    }

    private double runSequential(SwitchbackClient client) {
        long start = System.nanoTime();
        long tokens = 0;
        for (int i = 0; i < streams; i++) {
            tokens += client.stream(request(i), piece -> {}).usage().completionTokens();
        }
        return tokens / ((System.nanoTime() - start) / 1e9);
    }

    private double runConcurrent(SwitchbackClient client, ExecutorService pool) throws Exception {
        long start = System.nanoTime();
        List<Future<Completion>> all = new ArrayList<>();
        for (int i = 0; i < streams; i++) {
            int n = i;
            all.add(pool.submit(() -> client.stream(request(n), piece -> {})));
        }
        long tokens = 0;
        for (Future<Completion> f : all) {
            tokens += f.get().usage().completionTokens();
        }
        return tokens / ((System.nanoTime() - start) / 1e9);
    }

    private double runInProcess(EngineGenerationService service) throws Exception {
        AtomicInteger tokens = new AtomicInteger();
        List<CompletableFuture<Void>> done = new ArrayList<>();
        long start = System.nanoTime();
        for (int i = 0; i < streams; i++) {
            CompletableFuture<Void> finished = new CompletableFuture<>();
            done.add(finished);
            SamplingParams sampling = new SamplingParams(0, 0, 1, 1, null, maxTokens, List.of());
            service.submit(new GenerationRequest(model, PROMPTS.get(i % PROMPTS.size()), sampling, false, null),
                    new GenerationListener() {
                        @Override
                        public void onToken(TokenPiece piece) {
                            tokens.incrementAndGet();
                        }

                        @Override
                        public void onComplete(Completion completion) {
                            finished.complete(null);
                        }

                        @Override
                        public void onError(GenerationException error) {
                            finished.completeExceptionally(error);
                        }
                    });
        }
        CompletableFuture.allOf(done.toArray(CompletableFuture[]::new)).get();
        return tokens.get() / ((System.nanoTime() - start) / 1e9);
    }
}
