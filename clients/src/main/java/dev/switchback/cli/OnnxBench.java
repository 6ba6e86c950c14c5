package dev.switchback.cli;

import dev.switchback.cli.bench.EngineDecode;
import dev.switchback.kernels.cpu.Parallel;
import dev.switchback.kernels.engine.Engine;
import dev.switchback.server.onnx.OnnxEngine;
import dev.switchback.store.ModelStore;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.onnx.OnnxExport;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Spec;

/** {@code switchback bench onnx}: decode throughput of a dense model on the native engine and on ONNX Runtime. */
@Command(name = "onnx", mixinStandardHelpOptions = true,
        description = "Decode tokens/s of a stored dense model on the native engine vs its ONNX export on ONNX Runtime (same threads).")
final class OnnxBench implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption modelOption;

    @Mixin
    DecodeTiming timing;

    @Override
    public Integer call() throws Exception {
        ModelStore s = modelOption.store(spec.commandLine().getErr());
        Path dir = modelOption.dir(s);
        int threads = Parallel.shared().threads();
        PrintWriter out = spec.commandLine().getOut();
        Path graph = Files.createTempFile("switchback-bench-", ".onnx");
        try (OpenedModel opened = s.open(dir)) {
            OnnxExport.checkExportable(opened.manifest());
            Engine.Options options = Engine.Options.defaults().withMaxSequences(timing.maxBatch());
            Engine nativeEngine = Engine.load(opened, options);
            OnnxExport.write(opened, graph);
            out.printf(Locale.ROOT, "%s: dense, %,d parameters, %s weights; native engine %d threads, ONNX Runtime %d intra-op"
                    + " threads (CPU)%n", opened.manifest().name(), opened.config().totalParameters(),
                    nativeEngine.weights().format(), threads, threads);
            out.println("| model | batch | native tok/s | ONNX Runtime tok/s | native ÷ ORT |");
            out.println("|---|---:|---:|---:|---:|");
            out.flush();
            try (OnnxEngine onnx = OnnxEngine.open(graph, opened.config(), options, threads)) {
                for (int b : timing.batchSizes()) {
                    // Interleaved per batch size, so a busy machine slows both engines' figures alike.
                    double nat = EngineDecode.tokensPerSecond(nativeEngine, b, timing.promptLen, timing.steps, timing.warmup, timing.repeats, 11);
                    double ort = EngineDecode.tokensPerSecond(onnx, b, timing.promptLen, timing.steps, timing.warmup, timing.repeats, 11);
                    out.printf(Locale.ROOT, "| %s | %d | %.1f | %.1f | %.2f× |%n", opened.manifest().name(), b, nat, ort, nat / ort);
                    out.flush();
                }
            }
        } finally {
            Files.deleteIfExists(graph);
        }
        return 0;
    }
}
