package dev.switchback.cli;

import dev.switchback.cli.bench.serve.Arrivals;
import dev.switchback.cli.bench.serve.BenchConfig;
import dev.switchback.cli.bench.serve.BenchReport;
import dev.switchback.cli.bench.serve.Load;
import dev.switchback.cli.bench.serve.Results;
import dev.switchback.cli.bench.serve.ServeBenchmark;
import dev.switchback.cli.bench.serve.Slo;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code switchback bench serve} and {@code bench sweep}: LLM serving benchmarks against a running server on loopback. */
final class ServeBenchCommands {
    private ServeBenchCommands() {}

    /** What both commands take: the server, the request shape, the caps, the SLOs and where results go. */
    static final class Common {
        @Option(names = "--url", required = true, paramLabel = "URL", description = "The server, on loopback, e.g. http://127.0.0.1:8080.")
        String url;

        @Option(names = "--model", required = true, paramLabel = "NAME", description = "A model the server serves (see GET /v1/models).")
        String model;

        @Option(names = "--api-key", paramLabel = "KEY", description = "Sent as 'Authorization: Bearer KEY'.")
        String apiKey;

        @Option(names = "--duration-s", defaultValue = "60", paramLabel = "S",
                description = "No request is sent after S seconds (per level in a sweep; default: ${DEFAULT-VALUE}).")
        double durationSeconds;

        @Option(names = "--timeout-s", defaultValue = "60", paramLabel = "S",
                description = "A request still running S seconds after it was sent is cancelled and counted as a timeout (default: ${DEFAULT-VALUE}).")
        double timeoutSeconds;

        @Option(names = "--prompt-len", defaultValue = "32", paramLabel = "TOKENS",
                description = "About how many tokens each prompt holds, cut from the corpus's held-out verses (default: ${DEFAULT-VALUE}).")
        int promptLen;

        @Option(names = "--output-len", defaultValue = "64", paramLabel = "TOKENS", description = "max_tokens of each request (default: ${DEFAULT-VALUE}).")
        int outputLen;

        @Option(names = "--temperature", defaultValue = "0", paramLabel = "T", description = "Sampling temperature (default: ${DEFAULT-VALUE}, greedy).")
        double temperature;

        @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "Seeds prompts, arrivals and sampling (default: ${DEFAULT-VALUE}).")
        long seed;

        @Option(names = "--slo-ttft-ms", defaultValue = "500", paramLabel = "MS",
                description = "Goodput counts requests with TTFT at most this (default: ${DEFAULT-VALUE}).")
        double sloTtftMs;

        @Option(names = "--slo-tpot-ms", defaultValue = "50", paramLabel = "MS",
                description = "... and TPOT at most this (default: ${DEFAULT-VALUE}).")
        double sloTpotMs;

        @Option(names = "--corpus", paramLabel = "FILE", description = "Corpus to cut prompts from (default: $SWITCHBACK_CORPUS or ../shared/corpus/kjv.txt.gz).")
        Path corpus;

        @Option(names = "--output-dir", paramLabel = "DIR", description = "Where results.json and the plots go (default: runs/bench-<command>-<time>).")
        Path outputDir;

        BenchConfig config(Load load, int requests) {
            URI u;
            try {
                u = URI.create(url);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--url is not a URL: " + url);
            }
            return new BenchConfig(u, model, apiKey, load, requests, seconds("--duration-s", durationSeconds),
                    seconds("--timeout-s", timeoutSeconds), promptLen, outputLen, temperature, seed, new Slo(sloTtftMs, sloTpotMs));
        }

        Path corpusFile() {
            Path file = corpus != null ? corpus : Defaults.corpus();
            if (!Files.isRegularFile(file)) {
                throw new IllegalArgumentException("--corpus: no such file: " + file + " (give --corpus FILE or set $SWITCHBACK_CORPUS)");
            }
            return file;
        }

        Path outputDir(String command) {
            return outputDir != null ? outputDir
                    : Defaults.runs().resolve("bench-" + command + "-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        }

        private static Duration seconds(String flag, double s) {
            if (!(s > 0) || s > 86_400) {
                throw new IllegalArgumentException(flag + " must be > 0 and at most 86400, got " + s);
            }
            return Duration.ofNanos(Math.round(s * 1e9));
        }
    }

    static void report(PrintWriter out, Path dir, List<BenchReport> runs, boolean sweep, PrintWriter err) throws java.io.IOException {
        List<Path> files = Results.write(dir, runs, sweep, err);
        out.println("wrote " + String.join(", ", files.stream().map(Path::toString).toList()));
        out.flush();
        if (runs.stream().allMatch(r -> r.completed() == 0)) {
            throw new IllegalStateException("no request completed; see the errors above");
        }
    }

    /** One load, open (--rate) or closed (--concurrency). */
    @Command(name = "serve", mixinStandardHelpOptions = true,
            description = "Serving benchmark of a running server: TTFT, TPOT, ITL, throughput and goodput under an open or closed load.")
    static final class Serve implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        Common common;

        @Option(names = "--rate", paramLabel = "R", description = "Open load: R requests per second on average, whatever the server does.")
        Double rate;

        @Option(names = "--concurrency", paramLabel = "C", description = "Closed load: C users, each sending its next request when its last ends (default: 1).")
        Integer concurrency;

        @Option(names = "--arrivals", defaultValue = "poisson", paramLabel = "poisson|constant",
                description = "Gaps between --rate arrivals: exponential or constant (default: ${DEFAULT-VALUE}).")
        String arrivals;

        @Option(names = "--requests", defaultValue = "100", paramLabel = "N", description = "At most N requests (default: ${DEFAULT-VALUE}).")
        int requests;

        @Override
        public Integer call() throws Exception {
            if (rate != null && concurrency != null) {
                throw new IllegalArgumentException("give --rate R (open load) or --concurrency C (closed load), not both");
            }
            Arrivals process = switch (arrivals.toLowerCase(java.util.Locale.ROOT)) {
                case "poisson" -> Arrivals.POISSON;
                case "constant" -> Arrivals.CONSTANT;
                default -> throw new IllegalArgumentException("--arrivals must be poisson or constant, got " + arrivals);
            };
            Load load = rate != null ? new Load.Open(rate, process) : new Load.Closed(concurrency != null ? concurrency : 1);
            BenchConfig config = common.config(load, requests);
            Path corpus = common.corpusFile();
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            ServeBenchmark bench = ServeBenchmark.prepare(config, corpus, err);
            BenchReport report = bench.run();
            report.print(out);
            report(out, common.outputDir("serve"), List.of(report), false, err);
            return 0;
        }
    }

    /** The same closed load at several concurrencies. */
    @Command(name = "sweep", mixinStandardHelpOptions = true,
            description = "Serving benchmark at each concurrency: throughput and latency against concurrency, with plots.")
    static final class Sweep implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        Common common;

        @Option(names = "--concurrency", defaultValue = "1,2,4,8,16,32,64", split = ",", paramLabel = "C,...",
                description = "Concurrencies to run (default: ${DEFAULT-VALUE}).")
        List<Integer> levels;

        @Option(names = "--requests-per-level", defaultValue = "32", paramLabel = "N", description = "At most N requests per level (default: ${DEFAULT-VALUE}).")
        int requestsPerLevel;

        @Override
        public Integer call() throws Exception {
            if (levels.isEmpty()) {
                throw new IllegalArgumentException("--concurrency needs at least one level");
            }
            List<BenchConfig> configs = new ArrayList<>();
            for (int c : levels) {
                configs.add(common.config(new Load.Closed(c), requestsPerLevel));
            }
            Path corpus = common.corpusFile();
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            ServeBenchmark bench = ServeBenchmark.prepare(configs.getFirst(), corpus, err);
            List<BenchReport> runs = new ArrayList<>();
            for (BenchConfig config : configs) {
                BenchReport r = bench.run(config);
                err.printf(java.util.Locale.ROOT, "%s: %d completed, %d failed, %.1f output tokens/s%n", config.load().label(), r.completed(),
                        r.failed(), r.outputTokensPerSecond());
                err.flush();
                runs.add(r);
            }
            Results.printSweep(out, runs);
            report(out, common.outputDir("sweep"), runs, true, err);
            return 0;
        }
    }
}
