package dev.switchback.trainer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a {@link Trainer}'s remaining steps on an {@link Objective}: a progress line, one {@code metrics.jsonl} line
 * per step (validation loss every {@code evalEvery} steps and at the end), and optionally checkpoints.
 * {@code switchback train} and {@code switchback distill} share it.
 */
public final class TrainingLoop {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * What the steps produced.
     *
     * @param evaluation validation loss after the last step (the trainer's {@code evalTokens} windows)
     * @param tokens training tokens consumed by these steps
     * @param nanos time spent in these steps, evaluations excluded
     */
    public record Outcome(Trainer.Evaluation evaluation, long tokens, long nanos) {
        public double tokensPerSecond() {
            return tokens / Math.max(1e-9, nanos / 1e9);
        }
    }

    private TrainingLoop() {}

    /**
     * Rewrites a metrics log without the lines of steps after {@code last} (and any torn last line), through a
     * temporary file moved into place, so a resumed run's log has each step once. A missing file is left missing.
     */
    static void dropStepsAfter(Path metrics, int last) throws IOException {
        if (!Files.exists(metrics)) {
            return;
        }
        List<String> kept = new ArrayList<>();
        for (String line : Files.readAllLines(metrics)) {
            if (line.isBlank()) {
                continue;
            }
            JsonNode node;
            try {
                node = JSON.readTree(line);
            } catch (JsonProcessingException torn) {
                continue; // the line being written when the run stopped
            }
            if (node == null || !node.path("step").canConvertToInt() || node.path("step").asInt() <= last) {
                kept.add(line);
            }
        }
        Path tmp = metrics.resolveSibling(metrics.getFileName() + ".tmp");
        Files.write(tmp, kept);
        Files.move(tmp, metrics, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * Runs steps {@code first+1 .. training.steps}, appending to {@code runDir/metrics.jsonl} when resuming
     * ({@code first > 0}) and starting it afresh otherwise.
     *
     * @param checkpoints where to save checkpoints every {@code checkpointEvery} steps, or null for none
     * @param log where the progress line goes
     */
    public static Outcome run(Trainer trainer, Objective objective, Path runDir, int first, Path checkpoints, PrintWriter log)
            throws IOException {
        TrainConfig.Training t = trainer.config().training();
        Progress progress = new Progress(log, trainer.config().name(), t.steps(), Math.max(1, t.steps() / 20));
        long nanos = 0;
        long tokens = 0;
        Trainer.Evaluation eval = null;
        Files.createDirectories(runDir);
        if (first > 0) {
            // An interrupted run may have logged steps past its last checkpoint; they are run again now.
            dropStepsAfter(runDir.resolve("metrics.jsonl"), first);
        }
        try (BufferedWriter metrics = Files.newBufferedWriter(runDir.resolve("metrics.jsonl"), StandardOpenOption.CREATE,
                first > 0 ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
            for (int step = first + 1; step <= t.steps(); step++) {
                Trainer.StepResult r = trainer.step(objective);
                if (!Double.isFinite(r.loss())) {
                    throw new IllegalStateException("training diverged at step " + step + ": loss is " + r.loss()
                            + "; lower training.lr or raise training.warmupSteps");
                }
                nanos += r.nanos();
                tokens += r.tokens();
                Map<String, Object> line = stepMetrics(r, tokens / (nanos / 1e9));
                boolean evalNow = step == t.steps() || (t.evalEvery() > 0 && step % t.evalEvery() == 0);
                if (evalNow) {
                    eval = trainer.evaluate();
                    line.put("val_loss", eval.loss());
                    line.put("val_ppl", eval.perplexity());
                }
                metrics.write(JSON.writeValueAsString(line));
                metrics.newLine();
                metrics.flush();
                StringBuilder detail = new StringBuilder(String.format("loss %.3f", r.crossEntropy()));
                r.terms().forEach((name, value) -> detail.append(String.format(" %s %.3f", name, value)));
                if (eval != null) {
                    detail.append(String.format(" val_ppl %.2f", eval.perplexity()));
                }
                progress.update(step, first, tokens, "tok", detail.toString());
                if (checkpoints != null && t.checkpointEvery() > 0 && step % t.checkpointEvery() == 0 && step < t.steps()) {
                    Checkpoint.save(trainer, checkpoints, 2);
                }
            }
        }
        return new Outcome(eval != null ? eval : trainer.evaluate(), tokens, nanos);
    }

    private static Map<String, Object> stepMetrics(Trainer.StepResult r, double tokensPerSecond) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("step", r.step());
        m.put("loss", r.loss());
        m.put("ce", r.crossEntropy());
        m.putAll(r.terms());
        m.put("aux_loss", r.auxLoss());
        m.put("lr", r.lr());
        m.put("grad_norm", r.gradNorm());
        m.put("tokens_per_s", tokensPerSecond);
        if (!r.routing().layers().isEmpty()) {
            Map<String, Object> layers = new LinkedHashMap<>();
            for (var e : r.routing().layers().entrySet()) {
                layers.put(String.valueOf(e.getKey()), Map.of("fraction", e.getValue().fractions(), "dropped", e.getValue().droppedFraction()));
            }
            m.put("experts", layers);
            m.put("dropped_fraction", r.routing().droppedFraction());
        }
        return m;
    }
}
