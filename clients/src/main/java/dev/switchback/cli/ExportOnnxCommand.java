package dev.switchback.cli;

import dev.switchback.kernels.cpu.Parallel;
import dev.switchback.kernels.engine.Engine;
import dev.switchback.server.onnx.OnnxEngine;
import dev.switchback.server.onnx.Parity;
import dev.switchback.store.ModelFiles;
import dev.switchback.store.ModelStore;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.PublishedModel;
import dev.switchback.store.ReferenceLogits;
import dev.switchback.store.onnx.OnnxExport;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code switchback export-onnx}: a dense model as an ONNX graph with KV cache, checked against the native engine. */
@Command(name = "export-onnx", mixinStandardHelpOptions = true,
        description = "Export a dense model to ONNX (opset 17, past/present key-value inputs and outputs named as Hugging Face"
                + " Optimum names them), then check ONNX Runtime's logits against the native engine's.")
final class ExportOnnxCommand implements Callable<Integer> {
    /** Largest relative logit difference accepted by the check. */
    static final double TOLERANCE = 1e-4;

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption modelOption;

    @Option(names = "--out", paramLabel = "FILE", description = "Write the ONNX graph to FILE.")
    Path out;

    @Option(names = "--publish", paramLabel = "NAME", description = "Publish the export to --store as a new version of NAME"
            + " (model.onnx, tokenizer, reference logits, model.json marked \"engine\": \"onnx\"), which `serve` runs on ONNX Runtime.")
    String publish;

    @Option(names = "--check-steps", defaultValue = "8", paramLabel = "N",
            description = "Decode steps compared per reference prompt after the whole-prompt logits; 0 skips the check (default: ${DEFAULT-VALUE}).")
    int checkSteps;

    @Override
    public Integer call() throws Exception {
        if (out == null && publish == null) {
            throw new IllegalArgumentException("give --out FILE, --publish NAME, or both");
        }
        if (checkSteps < 0) {
            throw new IllegalArgumentException("--check-steps must be >= 0, got " + checkSteps);
        }
        ModelStore s = modelOption.store(spec.commandLine().getErr());
        Path dir = modelOption.dir(s);
        PrintWriter w = spec.commandLine().getOut();
        try (OpenedModel opened = s.open(dir)) {
            OnnxExport.checkExportable(opened.manifest());
            Path graph = out;
            if (out != null) {
                long bytes = OnnxExport.write(opened, out);
                w.printf(Locale.ROOT, "wrote %s (%.1f MB, opset %d, %d blocks)%n", out, bytes / 1e6, OnnxExport.OPSET,
                        opened.config().layers());
                w.flush();
            }
            if (publish != null) {
                PublishedModel p = OnnxExport.publish(opened, s, publish);
                w.printf(Locale.ROOT, "published %s:%d at %s%n", p.name(), p.version(), p.dir());
                w.flush();
                graph = graph != null ? graph : p.dir().resolve(ModelFiles.ONNX);
            }
            if (checkSteps > 0) {
                return check(opened, graph, w);
            }
        }
        return 0;
    }

    /** ONNX Runtime against the native engine on the model's reference prompts. */
    private int check(OpenedModel opened, Path graph, PrintWriter w) {
        List<int[]> prompts = opened.reference().references().stream().map(ReferenceLogits.Reference::tokens)
                .filter(t -> t.length < opened.config().contextLength()).toList();
        if (prompts.isEmpty()) {
            w.println("no reference prompts to check against");
            return 0;
        }
        Engine.Options options = Engine.Options.defaults().withMaxSequences(1);
        Engine reference = Engine.load(opened, options);
        double error;
        try (OnnxEngine onnx = OnnxEngine.open(graph, opened.config(), options, Parallel.shared().threads())) {
            error = Parity.maxRelativeError(reference, onnx, prompts, checkSteps);
        }
        boolean ok = error <= TOLERANCE;
        w.printf(Locale.ROOT, "%s: ONNX Runtime vs native engine on %d reference prompts (whole prompt + %d decode steps"
                + " each): max |Δ logit| = %.2e of max |logit|%n", ok ? "ok" : "MISMATCH", prompts.size(), checkSteps, error);
        w.flush();
        if (!ok) {
            spec.commandLine().getErr().println("error: ONNX Runtime's logits differ from the native engine's by more than "
                    + TOLERANCE + " of the largest logit; do not serve this export");
        }
        return ok ? 0 : 1;
    }
}
