package dev.switchback.cli;

import ai.djl.ndarray.NDManager;
import dev.switchback.cli.bench.Bandwidth;
import dev.switchback.cli.bench.EngineDecode;
import dev.switchback.cli.bench.RandomModels;
import dev.switchback.cli.bench.Spread;
import dev.switchback.kernels.cpu.Parallel;
import dev.switchback.kernels.engine.Engine;
import dev.switchback.kernels.engine.WeightFormat;
import dev.switchback.kernels.kv.KvFormat;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.trainer.TrainConfig;
import dev.switchback.trainer.model.Gpt;
import dev.switchback.trainer.model.IncrementalDecoder;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code switchback bench}: benchmarks that print the tables of docs/benchmarks.md. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks (engine decode, MoE cost, ONNX Runtime, serving, GPU).",
        subcommands = {BenchCommand.Decode.class, BenchCommand.Moe.class, OnnxBench.class, ServerBench.class,
            ServeBenchCommands.Serve.class, ServeBenchCommands.Sweep.class, GpuBench.class, NcclBench.class, NcclGroupBench.class, PlacementBench.class, MatmulBench.class})
final class BenchCommand {

    /** The large generated config of the benchmarks: d_model 1024, 8 layers, 16 experts in every 2nd block. */
    static ModelConfig largeSwitch() {
        return new ModelConfig(4096, 1024, 8, 16, 4096, 256, true, 10000, 1e-5,
                new Architecture.Switch(16, 2, 1.25, 2.0, 0.01, 1e-3, 0.1, 0.0));
    }

    static List<Integer> ints(String csv) {
        List<Integer> out = new ArrayList<>();
        for (String s : csv.split(",")) {
            out.add(Integer.parseInt(s.strip()));
        }
        return out;
    }

    /** Decode throughput of the engine against DJL/PyTorch and the memory-bandwidth roofline. */
    @Command(name = "decode", mixinStandardHelpOptions = true,
            description = "Decode tokens/s of the native engine vs the same model through DJL/PyTorch, and vs the roofline.")
    static final class Decode implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = "--config", paramLabel = "FILE", description = "A training config whose model is benchmarked with random weights.")
        Path config;

        @Option(names = "--large", description = "The large generated config (d_model 1024, 8 layers, 16 experts).")
        boolean large;

        @Option(names = "--dtype", defaultValue = "F32,BF16", split = ",", paramLabel = "F32|BF16", description = "Engine weight formats (default: ${DEFAULT-VALUE}).")
        List<WeightFormat> formats;

        @Mixin
        DecodeTiming timing;

        @Option(names = "--no-djl", description = "Skip the DJL/PyTorch baseline.")
        boolean noDjl;

        @Option(names = "--kv-cache-dtype", defaultValue = "f32", paramLabel = "f32|bf16", description = "KV cache storage (default: ${DEFAULT-VALUE}).")
        String kvCacheDtype;

        @Override
        public Integer call() throws Exception {
            if ((config == null) == !large) {
                throw new IllegalArgumentException("give exactly one of --config FILE or --large");
            }
            KvFormat kv = KvFormat.parse(kvCacheDtype);
            ModelConfig model = large ? largeSwitch() : TrainConfig.load(config).model();
            String name = large ? "large-switch" : config.getFileName().toString().replace(".json", "");
            PrintWriter out = spec.commandLine().getOut();
            out.printf(Locale.ROOT, "%s: %s, %,d parameters (%,d active non-embedding), %d threads%n", name,
                    model.architecture().kind(), model.totalParameters(), model.activeNonEmbeddingParameters(),
                    Parallel.shared().threads());
            double bandwidth = Bandwidth.copyBytesPerSecond(Parallel.shared(), 512, 5);
            out.printf(Locale.ROOT, "copy bandwidth %.1f GB/s (read + write)%n", bandwidth / 1e9);
            RandomModels.Weights weights = RandomModels.generate(model, 7);
            List<Integer> bs = timing.batchSizes();
            int maxBatch = timing.maxBatch();
            int promptLen = timing.promptLen;
            int steps = timing.steps;
            int warmup = timing.warmup;
            double[] djl = new double[bs.size()];
            if (!noDjl) {
                // Same number of threads for both engines, unless the caller set PyTorch's explicitly.
                if (System.getProperty("ai.djl.pytorch.num_threads") == null) {
                    System.setProperty("ai.djl.pytorch.num_threads", String.valueOf(Parallel.shared().threads()));
                    System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
                }
                try (NDManager manager = NDManager.newBaseManager();
                        Gpt gpt = Gpt.fromTensors(manager, model, 0, weights.hash(), weights.values())) {
                    for (int i = 0; i < bs.size(); i++) {
                        djl[i] = IncrementalDecoder.decodeTokensPerSecond(gpt, bs.get(i), promptLen, steps, warmup);
                    }
                }
            }
            out.println("| model | weights | batch | engine tok/s | DJL tok/s | engine ÷ DJL | weight MB/token | roofline tok/s | % of roofline |");
            out.println("|---|---|---:|---:|---:|---:|---:|---:|---:|");
            for (WeightFormat format : formats) {
                Engine engine = RandomModels.engine(weights, format, maxBatch, kv);
                long bytes = engine.weights().activeBytesPerToken();
                double roofline = bandwidth / bytes;
                for (int i = 0; i < bs.size(); i++) {
                    int b = bs.get(i);
                    double tps = EngineDecode.tokensPerSecond(engine, b, promptLen, steps, warmup, timing.repeats, 11);
                    out.printf(Locale.ROOT, "| %s | %s | %d | %.1f | %s | %s | %.2f | %s | %s |%n", name, format, b, tps,
                            noDjl ? "–" : String.format(Locale.ROOT, "%.1f", djl[i]),
                            noDjl ? "–" : String.format(Locale.ROOT, "%.2f×", tps / djl[i]), bytes / 1e6,
                            b == 1 ? String.format(Locale.ROOT, "%.1f", roofline) : "–",
                            b == 1 ? String.format(Locale.ROOT, "%.0f%%", 100 * tps / roofline) : "–");
                    out.flush();
                }
            }
            return 0;
        }
    }

    /** Decode cost of Switch models with many experts against the dense model of the same active size. */
    @Command(name = "moe", mixinStandardHelpOptions = true,
            description = "Decode time per token of switch models with N experts vs the dense model with the same active parameters.")
    static final class Moe implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = "--experts", defaultValue = "8,32", paramLabel = "N,...")
        String experts;

        @Option(names = "--batch", defaultValue = "1,16", paramLabel = "B,...")
        String batches;

        @Option(names = "--d-model", defaultValue = "128")
        int dModel;

        @Option(names = "--layers", defaultValue = "4")
        int layers;

        @Option(names = "--d-ff", defaultValue = "512")
        int dFf;

        @Option(names = "--dtype", defaultValue = "F32")
        WeightFormat format;

        @Option(names = "--steps", defaultValue = "64")
        int steps;

        @Option(names = "--repeats", defaultValue = "9")
        int repeats;

        @Option(names = "--kv-cache-dtype", defaultValue = "f32", paramLabel = "f32|bf16", description = "KV cache storage (default: ${DEFAULT-VALUE}).")
        String kvCacheDtype;

        @Override
        public Integer call() {
            KvFormat kv = KvFormat.parse(kvCacheDtype);
            PrintWriter out = spec.commandLine().getOut();
            List<Integer> bs = ints(batches);
            int maxBatch = bs.stream().mapToInt(Integer::intValue).max().orElse(1);
            List<ModelConfig> models = new ArrayList<>();
            models.add(config(new Architecture.Dense()));
            for (int e : ints(experts)) {
                models.add(config(new Architecture.Switch(e, 2, 1.25, 2.0, 0.01, 1e-3, 0.1, 0.0)));
            }
            out.println("| model | experts | total params | active non-emb | batch | ms/token | vs dense | rounds' range |");
            out.println("|---|---:|---:|---:|---:|---:|---:|---:|");
            List<Engine> engines = new ArrayList<>();
            for (ModelConfig m : models) {
                engines.add(RandomModels.engine(RandomModels.generate(m, 3), format, maxBatch, kv));
            }
            // One untimed pass over every model and batch first, so the JIT has compiled all paths before any timing.
            for (Engine engine : engines) {
                for (int b : bs) {
                    EngineDecode.tokensPerSecond(engine, b, 16, steps, 16, 1, 5);
                }
            }
            // Rounds interleave the models (dense, switch 8, switch 32, dense, ...) so that a slow spell of the
            // machine falls on all of them alike. Each round gives every model's time and its ratio to the dense
            // model timed next to it; the table shows the medians over rounds, which one noisy round cannot move.
            double[][][] ms = new double[models.size()][bs.size()][repeats];
            for (int r = 0; r < repeats; r++) {
                for (int i = 0; i < bs.size(); i++) {
                    for (int j = 0; j < models.size(); j++) {
                        ms[j][i][r] = 1000 / EngineDecode.tokensPerSecond(engines.get(j), bs.get(i), 16, steps, 16, 1, 5 + r);
                    }
                }
            }
            for (int j = 0; j < models.size(); j++) {
                ModelConfig m = models.get(j);
                int n = m.architecture().sparse() == null ? 1 : m.architecture().sparse().experts();
                for (int i = 0; i < bs.size(); i++) {
                    double[] ratios = new double[repeats];
                    for (int r = 0; r < repeats; r++) {
                        ratios[r] = ms[j][i][r] / ms[0][i][r];
                    }
                    out.printf(Locale.ROOT, "| %s | %d | %,d | %,d | %d | %.3f | %+.1f%% | %+.1f%% … %+.1f%% |%n",
                            m.architecture().kind(), n, m.totalParameters(), m.activeNonEmbeddingParameters(), bs.get(i),
                            Spread.median(ms[j][i]), 100 * (Spread.median(ratios) - 1), 100 * (Spread.min(ratios) - 1),
                            100 * (Spread.max(ratios) - 1));
                    out.flush();
                }
            }
            return 0;
        }



        private ModelConfig config(Architecture arch) {
            return new ModelConfig(4096, dModel, layers, Math.max(1, dModel / 32), dFf, 512, true, 10000, 1e-5, arch);
        }
    }
}
