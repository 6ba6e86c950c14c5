package dev.switchback.cli;

import dev.switchback.cli.bench.RandomModels;
import dev.switchback.cli.bench.Spread;
import dev.switchback.client.Completion;
import dev.switchback.client.CompletionRequest;
import dev.switchback.client.SwitchbackClient;
import dev.switchback.kernels.kv.KvFormat;
import dev.switchback.kernels.sampling.SamplingParams;
import dev.switchback.server.SwitchbackServer;
import dev.switchback.server.generation.GenerationException;
import dev.switchback.server.generation.GenerationListener;
import dev.switchback.server.generation.GenerationRequest;
import dev.switchback.server.http.HttpServerOptions;
import dev.switchback.server.models.EngineGenerationService;
import dev.switchback.server.models.ServerOptions;
import dev.switchback.store.ModelFiles;
import dev.switchback.store.ModelStore;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.safetensors.DType;
import dev.switchback.trainer.TrainConfig;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
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

    @Option(names = "--model", paramLabel = "NAME", description = "A model of the store.")
    String model;

    @Option(names = "--config", paramLabel = "FILE",
            description = "Instead of --model: a training config whose model is served with random weights (published to a"
                    + " temporary store), for sizes we do not train.")
    Path config;

    @Option(names = "--dtype", defaultValue = "F32", paramLabel = "F32|BF16", description = "Stored weights of the --config model (default: ${DEFAULT-VALUE}).")
    DType dtype;

    @Option(names = "--tokenizer", paramLabel = "FILE", description = "Tokenizer of the --config model (default: the bundled model's).")
    Path tokenizer;

    @Option(names = "--kv-cache-dtype", defaultValue = "f32", paramLabel = "f32|bf16", description = "KV cache storage (default: ${DEFAULT-VALUE}).")
    String kvCacheDtype;

    private KvFormat kvFormat;

    @Option(names = "--device", defaultValue = "cpu", paramLabel = "cpu|cuda:N",
            description = "Where the served model runs: the CPU engine, or the CUDA engine on GPU N (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--streams", defaultValue = "16", paramLabel = "N", description = "Concurrent streams (default: ${DEFAULT-VALUE}).")
    int streams;

    @Option(names = "--max-tokens", defaultValue = "64", paramLabel = "N")
    int maxTokens;

    @Option(names = "--rounds", defaultValue = "3", paramLabel = "N", description = "Best of N rounds (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--warmup", defaultValue = "3", paramLabel = "N",
            description = "Untimed rounds first, so the JIT has compiled the serving path (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--io-threads", defaultValue = "0", paramLabel = "N", description = "Server event-loop threads (0: Netty's default, twice the cores).")
    int ioThreads;

    @Option(names = "--client", defaultValue = "sdk", paramLabel = "sdk|raw",
            description = "HTTP client: sdk (SwitchbackClient on java.net.http, parsing every chunk) or raw (a socket per"
                    + " stream that only scans for the final usage chunk, so the client's own cost is small) (default: ${DEFAULT-VALUE}).")
    String client;

    private static final List<String> PROMPTS = List.of("In the beginning God created", "And the LORD spake unto Moses, saying,",
            "Blessed are the", "For God so loved the world, that he gave", "And it came to pass", "Thou shalt not",
            "The LORD is my shepherd;", "And Jesus answered and said unto them,");

    @Override
    public Integer call() throws Exception {
        if (streams < 1 || maxTokens < 1 || rounds < 1 || warmup < 0) {
            throw new IllegalArgumentException("--streams, --max-tokens and --rounds must be >= 1, --warmup >= 0");
        }
        if ((model == null) == (config == null)) {
            throw new IllegalArgumentException("give exactly one of --model NAME or --config FILE");
        }
        if (dtype != DType.F32 && dtype != DType.BF16) {
            throw new IllegalArgumentException("--dtype must be F32 or BF16, got " + dtype);
        }
        kvFormat = KvFormat.parse(kvCacheDtype);
        if (!device.equals("cpu") && !device.matches("cuda:\\d+")) {
            throw new IllegalArgumentException("--device must be cpu or cuda:N, got '" + device + "'");
        }
        if (!device.equals("cpu")) {
            String why = dev.switchback.kernels.cuda.Cudart.unavailableReason();
            if (why != null) {
                throw new IllegalStateException("--device " + device + ": " + why);
            }
        }
        PrintWriter out = spec.commandLine().getOut();
        if (config == null) {
            return serve(new ModelStore(store != null ? store : Defaults.store()), out);
        }
        Path temporary = Files.createTempDirectory("switchback-bench-server-");
        try {
            ModelConfig modelConfig = TrainConfig.load(config).model();
            model = config.getFileName().toString().replaceFirst("\\.json$", "") + "-random-" + dtype.name().toLowerCase(Locale.ROOT);
            Path tokenizerFile = tokenizer != null ? tokenizer : bundledTokenizer();
            out.printf(Locale.ROOT, "publishing %s: %,d parameters (%,d active non-embedding), random weights, %s%n", model,
                    modelConfig.totalParameters(), modelConfig.activeNonEmbeddingParameters(), dtype);
            out.flush();
            ModelStore s = new ModelStore(temporary);
            RandomModels.publish(s, model, RandomModels.generate(modelConfig, 7), dtype, tokenizerFile,
                    "switchback bench server --config " + config + " --dtype " + dtype);
            return serve(s, out);
        } finally {
            deleteTree(temporary);
        }
    }

    /** The bundled default model's tokenizer, which the trained models of the store share. */
    private static Path bundledTokenizer() throws IOException {
        Path bundled = Defaults.bundledStore();
        if (bundled == null) {
            throw new IllegalArgumentException("no bundled model to take a tokenizer from; give --tokenizer FILE");
        }
        try (var versions = Files.walk(bundled)) {
            return versions.filter(p -> p.getFileName().toString().equals(ModelFiles.TOKENIZER)).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException(bundled + " holds no tokenizer; give --tokenizer FILE"));
        }
    }

    private static void deleteTree(Path root) throws IOException {
        try (var paths = Files.walk(root)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private int serve(ModelStore s, PrintWriter out) throws Exception {
        PrometheusRegistry registry = new PrometheusRegistry();
        ServerOptions options = ServerOptions.defaults().withModels(List.of(model)).withKvFormat(kvFormat).withDevice(device)
                .withBatching(Math.max(256, streams), Math.max(16, streams), Math.max(512, streams), 256);
        EngineGenerationService service = new EngineGenerationService(s, options, registry);
        try (SwitchbackServer server = new SwitchbackServer(service, registry,
                new SwitchbackServer.Options(0, HttpServerOptions.defaults().withHost("127.0.0.1").withIoThreads(ioThreads),
                        Duration.ofSeconds(5)))) {
            server.start();
            service.started().get();
            String url = "http://127.0.0.1:" + server.port("http");
            ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
            if (!client.equals("sdk") && !client.equals("raw")) {
                throw new IllegalArgumentException("--client must be sdk or raw, got '" + client + "'");
            }
            int port = server.port("http");
            try (SwitchbackClient sdk = SwitchbackClient.connect(url)) {
                // Warm-up: JIT, KV blocks, connections. On few cores the compiler threads compete with the kernels'
                // for CPU, so the serving path needs several rounds before it stops running interpreted.
                for (int w = 0; w < warmup; w++) {
                    runConcurrent(sdk, port, pool);
                    runSequential(sdk, port);
                    runInProcess(service);
                }
                loopCpuNanos = 0;
                loopTokens = 0;
                double sequential = 0;
                double concurrent = 0;
                double inProcess = 0;
                // Each round's own ratios too: the three runs of a round are seconds apart, so a machine that speeds
                // up or slows down between rounds moves the best-of figures more than the ratios within a round.
                double[] speedups = new double[rounds];
                double[] overheads = new double[rounds];
                for (int r = 0; r < rounds; r++) {
                    double seq = runSequential(sdk, port);
                    double conc = runConcurrent(sdk, port, pool);
                    double local = runInProcess(service);
                    sequential = Math.max(sequential, seq);
                    concurrent = Math.max(concurrent, conc);
                    inProcess = Math.max(inProcess, local);
                    speedups[r] = conc / seq;
                    overheads[r] = 100 * (1 - conc / local);
                }
                out.printf(Locale.ROOT, "model %s, %d streams, up to %d tokens each, best of %d rounds after %d untimed, %d cores, %s client%n", model,
                        streams, maxTokens, rounds, warmup, Runtime.getRuntime().availableProcessors(), client);
                out.println("| measurement | generated tokens/s | ratio |");
                out.println("|---|---:|---:|");
                out.printf(Locale.ROOT, "| %d sequential HTTP+SSE requests | %.1f | 1.00× |%n", streams, sequential);
                out.printf(Locale.ROOT, "| %d concurrent HTTP+SSE streams | %.1f | %.2f× sequential |%n", streams, concurrent,
                        concurrent / sequential);
                out.printf(Locale.ROOT, "| %d concurrent in-process generations | %.1f | HTTP+SSE overhead %.1f%% |%n", streams,
                        inProcess, 100 * (1 - concurrent / inProcess));
                out.printf(Locale.ROOT, "within rounds (median, range): concurrent %.2f× sequential (%.2f–%.2f), HTTP+SSE overhead "
                        + "%.1f%% (%.1f–%.1f%%)%n", Spread.median(speedups), Spread.min(speedups), Spread.max(speedups),
                        Spread.median(overheads), Spread.min(overheads), Spread.max(overheads));
                out.printf(Locale.ROOT, "server event loops: %.1f µs of CPU per streamed token (concurrent runs)%n",
                        loopTokens == 0 ? 0 : loopCpuNanos / 1e3 / loopTokens);
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

    /** Generated tokens of one streamed request, through the chosen client. */
    private long streamOnce(SwitchbackClient sdk, int port, int i) throws IOException {
        if (client.equals("raw")) {
            return RawSse.completionTokens(port, model, PROMPTS.get(i % PROMPTS.size()), maxTokens);
        }
        return sdk.stream(request(i), piece -> {}).usage().completionTokens();
    }

    private double runSequential(SwitchbackClient sdk, int port) throws IOException {
        long start = System.nanoTime();
        long tokens = 0;
        for (int i = 0; i < streams; i++) {
            tokens += streamOnce(sdk, port, i);
        }
        return tokens / ((System.nanoTime() - start) / 1e9);
    }

    /** CPU time of the server's event loops over the concurrent runs, and the tokens they streamed. */
    private long loopCpuNanos;
    private long loopTokens;

    /** CPU nanoseconds used so far by the HTTP server's event-loop threads (Netty names them after their group). */
    private static long eventLoopCpuNanos() {
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        long sum = 0;
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith("multiThreadIoEventLoopGroup")) {
                sum += Math.max(0, mx.getThreadCpuTime(t.threadId()));
            }
        }
        return sum;
    }

    private double runConcurrent(SwitchbackClient sdk, int port, ExecutorService pool) throws Exception {
        long cpuBefore = eventLoopCpuNanos();
        long start = System.nanoTime();
        List<Future<Long>> all = new ArrayList<>();
        for (int i = 0; i < streams; i++) {
            int n = i;
            all.add(pool.submit(() -> streamOnce(sdk, port, n)));
        }
        long tokens = 0;
        for (Future<Long> f : all) {
            tokens += f.get();
        }
        double rate = tokens / ((System.nanoTime() - start) / 1e9);
        loopCpuNanos += eventLoopCpuNanos() - cpuBefore;
        loopTokens += tokens;
        return rate;
    }

    /**
     * A minimal streaming client: one HTTP/1.1 request per socket, the response read in large chunks and only
     * scanned for the end of the stream, then the usage chunk's completion_tokens parsed once.
     */
    static final class RawSse {
        private static final byte[] DONE = "data: [DONE]".getBytes(StandardCharsets.US_ASCII);

        static long completionTokens(int port, String model, String prompt, int maxTokens) throws IOException {
            String body = "{\"model\":" + quote(model) + ",\"prompt\":" + quote(prompt) + ",\"max_tokens\":" + maxTokens
                    + ",\"temperature\":0,\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
                socket.setTcpNoDelay(true);
                OutputStream out = socket.getOutputStream();
                out.write(("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        + "Content-Length: " + bytes.length + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                out.write(bytes);
                out.flush();
                InputStream in = socket.getInputStream();
                Response all = new Response();
                byte[] buf = new byte[65536];
                for (int n; (n = in.read(buf)) > 0; ) {
                    all.write(buf, 0, n);
                    if (all.endsStream()) {
                        break;
                    }
                }
                String text = all.toString(StandardCharsets.UTF_8);
                if (!text.startsWith("HTTP/1.1 200")) {
                    throw new IOException("server answered " + text.lines().findFirst().orElse("nothing"));
                }
                int at = text.lastIndexOf("\"completion_tokens\":");
                if (at < 0) {
                    throw new IOException("the stream carried no usage chunk");
                }
                int from = at + "\"completion_tokens\":".length();
                int to = from;
                while (to < text.length() && Character.isDigit(text.charAt(to))) {
                    to++;
                }
                return Long.parseLong(text.substring(from, to));
            }
        }

        /** The response so far; the end of the stream is looked for in its last bytes, where it would be. */
        private static final class Response extends ByteArrayOutputStream {
            Response() {
                super(16384);
            }

            boolean endsStream() {
                outer:
                for (int i = Math.max(0, count - 64); i <= count - DONE.length; i++) {
                    for (int j = 0; j < DONE.length; j++) {
                        if (buf[i + j] != DONE[j]) {
                            continue outer;
                        }
                    }
                    return true;
                }
                return false;
            }
        }

        private static String quote(String s) {
            return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
        }
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
