package dev.switchback.cli;

import dev.switchback.cli.bench.RandomModels;
import dev.switchback.cli.bench.Spread;
import dev.switchback.kernels.cuda.CudaDevice;
import dev.switchback.kernels.cuda.Cudart;
import dev.switchback.kernels.engine.CudaEngine;
import dev.switchback.kernels.kv.KvFormat;
import dev.switchback.kernels.engine.Engine;
import dev.switchback.kernels.engine.Sequence;
import dev.switchback.kernels.engine.ShardedCudaEngine;
import dev.switchback.kernels.placement.LayerPlacement;
import dev.switchback.kernels.placement.Placements;
import dev.switchback.kernels.engine.StepEngine;
import dev.switchback.kernels.engine.ModelWeights;
import dev.switchback.kernels.engine.TensorSource;
import dev.switchback.kernels.engine.WeightFormat;
import dev.switchback.store.TensorNames;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.safetensors.DType;
import dev.switchback.store.safetensors.SafetensorsWriter;
import dev.switchback.store.safetensors.TensorData;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code switchback bench gpu}: decode tokens/s of the CUDA engine on a random-weight model at several batch
 * sizes, against the HBM roofline (weight bytes a step must read ÷ the device copy bandwidth measured in the
 * same run). {@code --write-model DIR} also writes the weights as safetensors plus a config.json for the PyTorch
 * peer ({@code scripts/gpu/torch_peer.py}), so both run the same model.
 */
@Command(name = "gpu", mixinStandardHelpOptions = true,
        description = "Decode tokens/s of the CUDA engine vs the HBM roofline (random weights).")
public final class GpuBench implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--large", description = "The reference model: d_model 1024, 8 layers, top-1 over 16 experts (d_ff 4096) in every 2nd block, vocab 4096.")
    boolean large;

    @Option(names = "--experts", paramLabel = "N", description = "Experts per sparse block of --large (default: 16).")
    int experts = 16;

    @Option(names = "--batch", defaultValue = "1,16,64", paramLabel = "B,...", description = "Batch sizes (default: ${DEFAULT-VALUE}).")
    String batches;

    @Option(names = "--prompt-len", defaultValue = "16", paramLabel = "N")
    int promptLen;

    @Option(names = "--steps", defaultValue = "128", paramLabel = "N", description = "Timed decode steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--warmup", defaultValue = "16", paramLabel = "N")
    int warmup;

    @Option(names = "--device", defaultValue = "0", paramLabel = "N", description = "CUDA device ordinal.")
    int device;

    @Option(names = "--gpus", paramLabel = "N,N,...",
            description = "Also run the model with its experts sharded over these GPUs (each holds the dense weights and a share of"
                    + " every sparse block's experts; NCCL sums the shares) and print the scaling against one GPU.")
    String gpus;

    @Option(names = "--placements", defaultValue = "contiguous", paramLabel = "P,...",
            description = "Expert placements for --gpus, run in turn: contiguous, round-robin, load (planned on the tokens each"
                    + " expert got in the runs before it, so list it after another; one spare copy per GPU) (default: ${DEFAULT-VALUE}).")
    String placements;

    @Option(names = "--no-graphs", description = "Launch every kernel of a step instead of replaying a captured CUDA graph.")
    boolean noGraphs;

    @Option(names = "--gemm-min-tokens", defaultValue = "16", paramLabel = "N",
            description = "Steps of at least N tokens run dense matmuls on cuBLAS (BF16 tensor cores); 0: never (default: ${DEFAULT-VALUE}).")
    int gemmMinTokens;

    @Option(names = "--no-expert-gemm",
            description = "Keep the experts on the engine's grouped kernel in steps that run on cuBLAS (default: batched cuBLAS matmuls"
                    + " over each expert's tokens padded to the routing capacity).")
    boolean noExpertGemm;

    @Option(names = "--kv-cache-dtype", defaultValue = "f32", paramLabel = "f32|bf16",
            description = "How the device's KV cache stores keys and values (default: ${DEFAULT-VALUE}).")
    String kvCacheDtype;

    @Option(names = "--ab", paramLabel = "expert-gemm|kv-cache-dtype",
            description = "Also time the engine with this one setting flipped, in the same process: both engines warmed, then"
                    + " rounds alternating A B, B A, … at each batch size, medians per side (the first engine timed in a call"
                    + " tends to read slower, so separate calls mislead).")
    String ab;

    @Option(names = "--ab-rounds", defaultValue = "4", paramLabel = "N", description = "Rounds of --ab per batch size (default: ${DEFAULT-VALUE}).")
    int abRounds;

    @Option(names = "--no-pdl", description = "Launch kernels without programmatic dependent launch (Hopper).")
    boolean noPdl;

    @Option(names = "--write-model", paramLabel = "DIR", description = "Also write the weights (safetensors) and config.json for the PyTorch peer.")
    Path writeModel;

    /** The reference model of the GPU benchmark (issue 7 / docs/gpu.md). */
    static ModelConfig reference(int experts) {
        return new ModelConfig(4096, 1024, 8, 16, 4096, 256, true, 10000, 1e-5,
                new Architecture.Switch(experts, 2, 1.25, 2.0, 0.01, 1e-3, 0.1, 0.0));
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new GpuBench()).setExecutionExceptionHandler(new Main.UserErrors()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (!large) {
            throw new IllegalArgumentException("give --large (the reference model); other models come later");
        }
        List<String> names = List.of(placements.split(",", -1));
        for (int i = 0; i < names.size(); i++) {
            String name = names.get(i).strip();
            if (!List.of("contiguous", "round-robin", "load").contains(name)) {
                throw new IllegalArgumentException("--placements: contiguous, round-robin or load, got '" + name + "'");
            }
            if (name.equals("load") && i == 0) {
                throw new IllegalArgumentException("--placements: load plans on the tokens counted by the runs before it; list another first (e.g. contiguous,load)");
            }
        }
        KvFormat kvFormat = KvFormat.parse(kvCacheDtype);
        if (ab != null && !List.of("expert-gemm", "kv-cache-dtype").contains(ab)) {
            throw new IllegalArgumentException("--ab: expert-gemm or kv-cache-dtype, got '" + ab + "'");
        }
        if (abRounds < 2) {
            throw new IllegalArgumentException("--ab-rounds must be >= 2, got " + abRounds);
        }
        String why = Cudart.unavailableReason();
        if (why != null) {
            throw new IllegalStateException("CUDA is not usable here: " + why);
        }
        ModelConfig config = reference(experts);
        List<Integer> bs = BenchCommand.ints(batches);
        int maxBatch = bs.stream().mapToInt(Integer::intValue).max().orElse(1);
        if (promptLen + warmup + steps > config.contextLength()) {
            throw new IllegalArgumentException("prompt " + promptLen + " + warm-up " + warmup + " + steps " + steps
                    + " exceed the context of " + config.contextLength());
        }
        RandomModels.Weights weights = RandomModels.generate(config, 7);
        if (writeModel != null) {
            writePeerModel(weights, writeModel);
            out.println("wrote " + writeModel.resolve("model.safetensors") + " and config.json");
        }
        ModelWeights w = ModelWeights.load(config, TensorSource.of(weights.values(), weights.shapes(), weights.ints()), WeightFormat.BF16);
        try (CudaDevice dev = CudaDevice.open(device)) {
            dev.programmaticLaunch(!noPdl);
            double bandwidth = copyBandwidth(dev);
            out.printf(Locale.ROOT, "%s; %,d parameters (%,d active non-embedding); graphs %s, PDL %s, cuBLAS from %d tokens (experts: %s), %s KV cache; device copy bandwidth %.0f GB/s (read + write)%n",
                    dev.describe(), config.totalParameters(), config.activeNonEmbeddingParameters(), noGraphs ? "off" : "on",
                    dev.programmaticLaunch() ? "on" : "off", gemmMinTokens, noExpertGemm ? "grouped kernel" : "batched matmuls",
                    kvFormat.flag(), bandwidth / 1e9);
            CudaEngine.Options options = new CudaEngine.Options(16, 0, maxBatch, Math.max(maxBatch * promptLen, maxBatch), !noGraphs,
                    gemmMinTokens, !noExpertGemm, kvFormat);
            double[] single = new double[bs.size()];
            try (CudaEngine engine = new CudaEngine(w, dev, options)) {
                tokensPerSecond(engine, engine::decode, maxBatch); // untimed: see warmUp
                out.println("| batch | tok/s | ms/step | weight MB/step | roofline tok/s | % of roofline |");
                out.println("|---:|---:|---:|---:|---:|---:|");
                for (int i = 0; i < bs.size(); i++) {
                    int b = bs.get(i);
                    double tps = tokensPerSecond(engine, engine::decode, b);
                    single[i] = tps;
                    double stepBytes = stepBytes(config, b);
                    double roofline = b * bandwidth / stepBytes;
                    out.printf(Locale.ROOT, "| %d | %.0f | %.3f | %.1f | %.0f | %.0f%% |%n", b, tps, 1000.0 * b / tps,
                            stepBytes / 1e6, roofline, 100 * tps / roofline);
                    out.flush();
                }
            }
            if (ab != null) {
                compare(out, w, dev, options, bs);
            }
            if (gpus != null) {
                int[] group = BenchCommand.ints(gpus).stream().mapToInt(Integer::intValue).toArray();
                out.printf(Locale.ROOT, "experts sharded over %d GPUs %s, graphs %s (as one GPU above); device imbalance: the"
                        + " busiest GPU's expert tokens over the mean, worst sparse block, over the placement's own run%n",
                        group.length, java.util.Arrays.toString(group), noGraphs ? "off" : "on");
                out.println("| placement | experts per GPU | batch | 1 GPU tok/s | " + group.length + " GPUs tok/s | scaling | device imbalance |");
                out.println("|---|---|---:|---:|---:|---:|---:|");
                long[][] counted = null; // every earlier sharded run's routed tokens, for load
                for (String name : placements.split(",")) {
                    LayerPlacement[] byLayer = placement(config, name.strip(), group.length, counted);
                    try (ShardedCudaEngine sharded = ShardedCudaEngine.open(w, group, options, byLayer)) {
                        tokensPerSecond(sharded, sharded::decode, maxBatch); // untimed: see warmUp
                        for (int i = 0; i < bs.size(); i++) {
                            long[][] before = sharded.routedTokens();
                            double tps = tokensPerSecond(sharded, sharded::decode, bs.get(i));
                            long[][] after = sharded.routedTokens();
                            double imbalance = 1;
                            String held = "";
                            for (int l = 0; l < after.length; l++) {
                                if (after[l].length == 0) {
                                    continue;
                                }
                                long[] tokens = new long[after[l].length];
                                for (int e = 0; e < tokens.length; e++) {
                                    tokens[e] = after[l][e] - before[l][e];
                                }
                                LayerPlacement p = byLayer != null ? byLayer[l] : ShardedCudaEngine.contiguousShares(tokens.length, group.length);
                                imbalance = Math.max(imbalance, LayerPlacement.imbalance(p.deviceLoad(tokens)));
                                held = java.util.Arrays.toString(p.expertsPerDevice());
                            }
                            out.printf(Locale.ROOT, "| %s | %s | %d | %.0f | %.0f | %.2f× | %.3f |%n", name.strip(), held, bs.get(i),
                                    single[i], tps, tps / single[i], imbalance);
                            out.flush();
                        }
                        long[][] routed = sharded.routedTokens();
                        if (counted == null) {
                            counted = routed;
                        } else {
                            for (int l = 0; l < routed.length; l++) {
                                for (int e = 0; e < routed[l].length; e++) {
                                    counted[l][e] += routed[l][e];
                                }
                            }
                        }
                    }
                }
            }
        }
        return 0;
    }

    /** {@code --ab}: the engine as the flags say (A) against the same with one setting flipped (B), rounds interleaved. */
    private void compare(PrintWriter out, ModelWeights w, CudaDevice dev, CudaEngine.Options a, List<Integer> bs) {
        CudaEngine.Options b = switch (ab) {
            case "expert-gemm" -> a.withExpertGemm(!a.expertGemm());
            default -> a.withKvFormat(a.kvFormat() == KvFormat.F32 ? KvFormat.BF16 : KvFormat.F32);
        };
        String nameA = describe(a);
        String nameB = describe(b);
        int maxBatch = bs.stream().mapToInt(Integer::intValue).max().orElse(1);
        try (CudaEngine engineA = new CudaEngine(w, dev, a); CudaEngine engineB = new CudaEngine(w, dev, b)) {
            tokensPerSecond(engineA, engineA::decode, maxBatch); // untimed: see warmUp
            tokensPerSecond(engineB, engineB::decode, maxBatch);
            out.printf(Locale.ROOT, "%s: A = %s, B = %s, %d rounds per batch size alternating A B, B A, …%n", "--ab " + ab, nameA,
                    nameB, abRounds);
            out.println("| batch | A tok/s (rounds) | B tok/s (rounds) | median A | median B | B ÷ A |");
            out.println("|---:|---|---|---:|---:|---:|");
            for (int batch : bs) {
                double[] ra = new double[abRounds];
                double[] rb = new double[abRounds];
                for (int r = 0; r < abRounds; r++) {
                    if (r % 2 == 0) {
                        ra[r] = tokensPerSecond(engineA, engineA::decode, batch);
                        rb[r] = tokensPerSecond(engineB, engineB::decode, batch);
                    } else {
                        rb[r] = tokensPerSecond(engineB, engineB::decode, batch);
                        ra[r] = tokensPerSecond(engineA, engineA::decode, batch);
                    }
                }
                double ma = Spread.median(ra);
                double mb = Spread.median(rb);
                out.printf(Locale.ROOT, "| %d | %s | %s | %.0f | %.0f | %.3f |%n", batch, rounds(ra), rounds(rb), ma, mb, mb / ma);
                out.flush();
            }
        }
    }

    private String describe(CudaEngine.Options o) {
        return ab.equals("expert-gemm") ? "experts " + (o.expertGemm() ? "as batched cuBLAS matmuls" : "on the grouped kernel")
                : o.kvFormat().flag() + " KV cache";
    }

    private static String rounds(double[] v) {
        StringBuilder out = new StringBuilder();
        for (double x : v) {
            out.append(out.isEmpty() ? "" : " / ").append(String.format(Locale.ROOT, "%.0f", x));
        }
        return out.toString();
    }

    /** A named placement of every sparse block; null for contiguous shares (the engine's default). */
    private static LayerPlacement[] placement(ModelConfig config, String name, int gpus, long[][] counted) {
        if (name.equals("contiguous")) {
            return null;
        }
        int experts = config.architecture().sparse().experts();
        return Placements.everySparseBlock(config, l -> switch (name) {
            case "round-robin" -> Placements.roundRobin(experts, gpus);
            case "load" -> Placements.load(counted[l], gpus, gpus);
            default -> throw new IllegalArgumentException("--placements: contiguous, round-robin or load, got '" + name + "'");
        });
    }

    /*
     * warmUp: every engine first runs one untimed pass at the largest batch. A few hundred steps are too few for the JIT
     * to finish compiling the host side of a step (per-step code runs a few times per step): on two H200s the sharded
     * placement listed first ran at 1.00–1.18× one GPU and the same placement listed later at 1.28–1.43×.
     */

    /** A greedy decoding call of either engine. */
    interface Decoding {
        int[] decode(List<Engine.Step> steps, List<CudaEngine.Sampling> sampling);
    }

    /** Generated tokens per second of greedy decoding {@code b} sequences after a batched prefill. */
    private double tokensPerSecond(StepEngine engine, Decoding decoding, int b) {
        SplittableRandom rng = new SplittableRandom(11);
        List<Sequence> seqs = new ArrayList<>();
        List<Engine.Step> steps = new ArrayList<>();
        List<CudaEngine.Sampling> greedy = new ArrayList<>();
        for (int i = 0; i < b; i++) {
            Sequence s = engine.newSequence();
            seqs.add(s);
            steps.add(new Engine.Step(s, rng.ints(promptLen, 0, engine.config().vocabSize()).toArray()));
            greedy.add(CudaEngine.Sampling.GREEDY);
        }
        int[] next = decoding.decode(steps, greedy);
        long start = 0;
        for (int i = 0; i < warmup + this.steps; i++) {
            if (i == warmup) {
                start = System.nanoTime();
            }
            steps.clear();
            for (int j = 0; j < b; j++) {
                steps.add(new Engine.Step(seqs.get(j), new int[] {next[j]}));
            }
            next = decoding.decode(steps, greedy);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        seqs.forEach(Sequence::close);
        return (double) b * this.steps / seconds;
    }

    /**
     * Weight bytes one decode step of {@code b} tokens reads: the dense parts and head once, and in each sparse
     * block the experts the batch touches — E·(1 − (1 − 1/E)^b) of them under uniform top-1 routing, all of
     * them in practice at batch 64 with 16 experts.
     */
    static double stepBytes(ModelConfig c, int b) {
        long d = c.dModel();
        long ff = c.dFf();
        double bytes = 2.0 * c.vocabSize() * d;
        int e = c.architecture().sparse() == null ? 1 : c.architecture().sparse().experts();
        for (int l = 0; l < c.layers(); l++) {
            bytes += 2.0 * 4 * d * d + 2 * d * 4;
            if (c.architecture().isSparseLayer(l)) {
                double touched = e * (1 - Math.pow(1 - 1.0 / e, b));
                bytes += touched * 2.0 * 2 * d * ff + 4.0 * e * d;
            } else {
                bytes += 2.0 * 2 * d * ff;
            }
        }
        return bytes * c.architecture().passes();
    }

    /** Device-to-device copy of 1 GiB, best of 10, bytes read plus written per second. */
    private static double copyBandwidth(CudaDevice dev) {
        Cudart rt = dev.runtime();
        long bytes = 1L << 30;
        long a = dev.malloc(bytes);
        long b = dev.malloc(bytes);
        long start = rt.eventCreate();
        long end = rt.eventCreate();
        double best = 0;
        for (int i = 0; i < 12; i++) {
            rt.eventRecord(start, dev.stream());
            rt.memcpyAsync(b, a, bytes, Cudart.D2D, dev.stream());
            rt.eventRecord(end, dev.stream());
            float ms = rt.elapsedMillis(start, end);
            if (i >= 2) {
                best = Math.max(best, 2.0 * bytes / (ms / 1e3));
            }
        }
        rt.eventDestroy(start);
        rt.eventDestroy(end);
        return best;
    }

    /** Writes the random model for the PyTorch peer: BF16 matrices, F32 norms and routers. */
    static void writePeerModel(RandomModels.Weights w, Path dir) throws java.io.IOException {
        Files.createDirectories(dir);
        ModelConfig c = w.config();
        List<TensorData> tensors = new ArrayList<>();
        for (var e : w.values().entrySet()) {
            long[] shape = w.shapes().get(e.getKey());
            boolean matrix = shape.length == 2 && !e.getKey().endsWith("router.weight");
            tensors.add(TensorData.ofFloats(e.getKey(), shape, e.getValue(), matrix ? DType.BF16 : DType.F32));
        }
        SafetensorsWriter.write(dir.resolve("model.safetensors"), tensors, Map.of("format", "pt"));
        Architecture.Sparse s = c.architecture().sparse();
        String json = String.format(Locale.ROOT,
                "{\"vocab\": %d, \"d_model\": %d, \"layers\": %d, \"heads\": %d, \"d_ff\": %d, \"context\": %d,"
                        + " \"tied\": %s, \"rope_theta\": %s, \"norm_eps\": %s, \"experts\": %d, \"every\": %d,"
                        + " \"capacity_factor\": %s, \"tok_emb\": \"%s\"}%n",
                c.vocabSize(), c.dModel(), c.layers(), c.heads(), c.dFf(), c.contextLength(), c.tiedEmbeddings(),
                c.ropeTheta(), c.normEps(), s == null ? 0 : s.experts(), s instanceof Architecture.Switch sw ? sw.every() : 0,
                s instanceof Architecture.Switch sw ? sw.capacityFactorEval() : 0, TensorNames.TOK_EMB);
        Files.writeString(dir.resolve("config.json"), json);
    }
}
