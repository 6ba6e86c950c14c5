package dev.switchback.cli;

import dev.switchback.kernels.cuda.Cudart;
import dev.switchback.kernels.cuda.NvccBuild;
import dev.switchback.kernels.kv.KvFormat;
import dev.switchback.kernels.placement.PlacementStrategy;
import dev.switchback.server.SwitchbackServer;
import dev.switchback.server.grpc.GrpcServerConfig;
import dev.switchback.server.http.HttpServerOptions;
import dev.switchback.server.models.EngineGenerationService;
import dev.switchback.server.models.PlacementOption;
import dev.switchback.server.models.ServerOptions;
import dev.switchback.store.ModelRef;
import dev.switchback.store.ModelStore;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code switchback serve}: the OpenAI-compatible HTTP server and the gRPC service over the model store. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve the store's models over HTTP (OpenAI-compatible) and gRPC until interrupted.")
final class ServeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--store", paramLabel = "DIR",
            description = "Model store (default: $SWITCHBACK_STORE, or ./store, or the bundled store when ./store is empty).")
    Path store;

    @Option(names = "--model", paramLabel = "NAME", description = "Model to load at start-up (repeatable; default: every model in the store).")
    List<String> models = List.of();

    @Option(names = "--host", defaultValue = "0.0.0.0", paramLabel = "ADDR", description = "Address to bind (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "8080", paramLabel = "PORT", description = "HTTP port (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--grpc-port", defaultValue = "9090", paramLabel = "PORT", description = "gRPC port, -1 for none (default: ${DEFAULT-VALUE}).")
    int grpcPort;

    @Option(names = "--api-key", paramLabel = "KEY", description = "Require 'Authorization: Bearer KEY' (health endpoints stay open).")
    String apiKey;

    @Option(names = "--max-batch", defaultValue = "16", paramLabel = "N", description = "Most sequences decoded together per model (default: ${DEFAULT-VALUE}).")
    int maxBatch;

    @Option(names = "--max-waiting", defaultValue = "256", paramLabel = "N", description = "Waiting requests per model before 429 (default: ${DEFAULT-VALUE}).")
    int maxWaiting;

    @Option(names = "--kv-cache-mb", defaultValue = "512", paramLabel = "MB", description = "KV cache per model (default: ${DEFAULT-VALUE}).")
    long kvCacheMb;

    @Option(names = "--kv-cache-dtype", defaultValue = "f32", paramLabel = "f32|bf16",
            description = "How keys and values are stored (CPU and GPU): bf16 holds twice the positions in --kv-cache-mb"
                    + " (attention still computes in F32) (default: ${DEFAULT-VALUE}).")
    String kvCacheDtype;

    @Option(names = "--device", defaultValue = "cpu", paramLabel = "cpu|cuda",
            description = "Where native models run: cpu, or cuda on the GPU of --gpus (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--gpus", defaultValue = "0", paramLabel = "N[,N...]",
            description = "The CUDA device(s) for --device cuda; several shard each sparse block's experts over them (default: ${DEFAULT-VALUE}).")
    String gpus;

    @Option(names = "--expert-placement", defaultValue = "contiguous", paramLabel = "contiguous|round-robin|load|static-balanced",
            description = "How --gpus share each sparse block's experts: contiguous ranges; expert e on GPU e mod N;"
                    + " load (planned from each expert's tokens on --placement-text, measured on the GPUs, the busiest"
                    + " experts copied to several GPUs); static-balanced (hash models: the table's token mass on"
                    + " --placement-text) (default: ${DEFAULT-VALUE}).")
    String expertPlacement;

    @Option(names = "--placement-text", paramLabel = "FILE",
            description = "Text (.txt or .txt.gz) that load and static-balanced plan on (default: ../shared/corpus/kjv.txt.gz).")
    Path placementText;

    @Option(names = "--placement-tokens", defaultValue = "" + PlacementOption.DEFAULT_TOKENS, paramLabel = "N",
            description = "Tokens of --placement-text read to plan (default: ${DEFAULT-VALUE}).")
    int placementTokens;

    @Option(names = "--shard-worker", paramLabel = "HOST:PORT@GPU",
            description = "A further rank of each sharded model: CUDA device GPU of the `switchback shard-worker` at HOST:PORT,"
                    + " ranked after --gpus (repeatable; needs --device cuda; the worker loads the model from the same store path"
                    + " on its host).")
    List<String> shardWorkers = new ArrayList<>();

    @Option(names = "--default-max-tokens", defaultValue = "256", paramLabel = "N", description = "max_tokens when a request gives none, lowered to the room the context leaves after the prompt (default: ${DEFAULT-VALUE}).")
    int defaultMaxTokens;

    /** Counted down once the server is up; tests wait on it. */
    final CountDownLatch up = new CountDownLatch(1);
    /** Counted down to stop the server (the shutdown hook or a test). */
    final CountDownLatch stop = new CountDownLatch(1);
    volatile SwitchbackServer server;

    /**
     * {@code cpu}, or {@code cuda:N} once the GPU is known to be usable here: a missing runtime, device or nvcc is
     * one line at start-up, before anything is loaded.
     */
    private String engineDevice() {
        switch (device) {
            case "cpu" -> {
                return "cpu";
            }
            case "cuda" -> {
                List<Integer> ordinals = new ArrayList<>();
                for (String g : gpus.split(",", -1)) {
                    int ordinal;
                    try {
                        ordinal = Integer.parseInt(g.strip());
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("--gpus must be device numbers separated by commas, got '" + gpus + "'");
                    }
                    if (ordinals.contains(ordinal)) {
                        throw new IllegalArgumentException("--gpus lists device " + ordinal + " twice");
                    }
                    ordinals.add(ordinal);
                }
                String why = Cudart.unavailableReason();
                if (why != null) {
                    throw new IllegalStateException("--device cuda: " + why + " (--device cpu still works)");
                }
                int count = Cudart.get().deviceCount();
                for (int ordinal : ordinals) {
                    if (ordinal < 0 || ordinal >= count) {
                        throw new IllegalArgumentException("--gpus " + ordinal + ": this host has " + count + " CUDA device(s)");
                    }
                }
                NvccBuild.findNvcc();
                return "cuda:" + String.join(",", ordinals.stream().map(String::valueOf).toList());
            }
            default -> throw new IllegalArgumentException("--device must be cpu or cuda, got '" + device + "'");
        }
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        ModelStore s = Defaults.readStore(store, out);
        LinkedHashSet<String> names = new LinkedHashSet<>(models);
        if (names.isEmpty()) {
            for (ModelRef ref : s.list()) {
                names.add(ref.name());
            }
        }
        if (names.isEmpty()) {
            throw new IllegalArgumentException("no models in " + s.root() + "; train one first, e.g. ./switchback train --config trainer/configs/switch-tiny.json");
        }
        KvFormat kvFormat = KvFormat.parse(kvCacheDtype);
        PlacementStrategy strategy = switch (expertPlacement) {
            case "contiguous" -> null;
            case "round-robin" -> PlacementStrategy.ROUND_ROBIN;
            case "load" -> PlacementStrategy.LOAD;
            case "static-balanced" -> PlacementStrategy.STATIC_BALANCED;
            default -> throw new IllegalArgumentException("--expert-placement must be contiguous, round-robin, load or"
                    + " static-balanced, got '" + expertPlacement + "'");
        };
        if (placementTokens < 1) {
            throw new IllegalArgumentException("--placement-tokens must be >= 1, got " + placementTokens);
        }
        PlacementOption placement = null;
        if (strategy == PlacementStrategy.ROUND_ROBIN) {
            placement = PlacementOption.roundRobin();
        } else if (strategy != null) {
            Path text = placementText != null ? placementText : Defaults.corpus();
            if (!Files.isRegularFile(text)) {
                throw new IllegalArgumentException("--placement-text: file does not exist: " + text);
            }
            placement = new PlacementOption(strategy, text, placementTokens);
        }
        List<ServerOptions.ShardWorkerAddress> workers = new ArrayList<>();
        for (String w : shardWorkers) {
            if (!device.equals("cuda")) {
                throw new IllegalArgumentException("--shard-worker holds a GPU rank of a sharded model: give --device cuda");
            }
            try {
                workers.add(ServerOptions.ShardWorkerAddress.parse(w));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--shard-worker must be HOST:PORT@GPU, got '" + w + "'");
            }
        }
        if (placement != null && !(device.equals("cuda") && (gpus.contains(",") || !workers.isEmpty()))) {
            throw new IllegalArgumentException("--expert-placement places experts over several GPUs: give --device cuda"
                    + " --gpus N,M,... or --shard-worker");
        }
        String engineDevice = engineDevice();
        ServerOptions options = ServerOptions.defaults()
                .withDevice(engineDevice)
                .withKvFormat(kvFormat)
                .withExpertPlacement(placement)
                .withShardWorkers(workers)
                .withModels(List.copyOf(names))
                .withBatching(maxWaiting, maxBatch, Math.max(512, maxBatch), 256)
                .withKvCacheBytes(kvCacheMb << 20)
                .withDefaultMaxTokens(defaultMaxTokens);
        PrometheusRegistry registry = new PrometheusRegistry();
        EngineGenerationService service = new EngineGenerationService(s, options, registry);
        HttpServerOptions http = HttpServerOptions.defaults().withHost(host).withDefaultMaxTokens(defaultMaxTokens);
        GrpcServerConfig grpc = GrpcServerConfig.defaults().withHost(host);
        if (apiKey != null) {
            http = http.withApiKey(apiKey);
            grpc = grpc.withApiKey(apiKey);
        }
        SwitchbackServer started = new SwitchbackServer(service, registry,
                new SwitchbackServer.Options(port, http, grpcPort, grpc, Duration.ofSeconds(10)));
        server = started;
        Thread hook = new Thread(stop::countDown, "switchback-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            started.start();
            out.printf("loading %s from %s%n", String.join(", ", names), s.root());
            out.flush();
            try {
                service.started().get();
            } catch (ExecutionException e) {
                throw new IllegalStateException("a start-up model failed to load: " + e.getCause().getMessage());
            }
            out.printf("serving %d model(s): http://%s:%d/v1%s%n", names.size(), host, started.port("http"),
                    grpcPort >= 0 ? " and grpc://" + host + ":" + started.port("grpc") : "");
            out.flush();
            up.countDown();
            stop.await();
            out.println("shutting down: draining in-flight requests");
            out.flush();
        } finally {
            started.close();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException alreadyShuttingDown) {
                // The JVM is exiting through the hook itself; nothing to remove.
            }
        }
        return 0;
    }
}
