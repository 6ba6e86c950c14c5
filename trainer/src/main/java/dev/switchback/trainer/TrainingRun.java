package dev.switchback.trainer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.switchback.store.ModelStore;
import dev.switchback.store.Provenance;
import dev.switchback.store.PublishedModel;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.ConfigException;
import dev.switchback.store.model.HashRouting;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.safetensors.DType;
import dev.switchback.trainer.data.TokenizedCorpus;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The {@code switchback train} job: prepare data, train with periodic evaluation, metrics and checkpoints,
 * then publish the model to the store. Every input is checked before the first step.
 */
public final class TrainingRun {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * @param config configuration file
     * @param steps overrides {@code training.steps} when not null
     * @param store model store to publish into
     * @param name overrides the configuration's name when not null
     * @param runsDir where run folders (metrics, checkpoints) go
     * @param cacheDir tokenizer and encoded-corpus cache
     * @param resume continue from the run's latest checkpoint when one exists
     * @param dtype weight type of the published model
     * @param command the command line, recorded in provenance
     */
    public record Options(Path config, Integer steps, Path store, String name, Path runsDir, Path cacheDir, boolean resume,
            DType dtype, String command) {}

    /** What a finished run reports (and {@code docs/training.md} tabulates). */
    public record Result(String name, String architecture, long totalParameters, long activeParameters,
            double validationLoss, double validationPerplexity, double tokensPerSecond, double wallSeconds,
            double flopsPerToken, double peakFlops, double mfu, PublishedModel published, Path runDir) {}

    private TrainingRun() {}

    public static Result run(Options o, PrintWriter log) throws IOException {
        TrainConfig loaded = TrainConfig.load(o.config());
        TrainConfig config = new TrainConfig(o.name() != null ? o.name() : loaded.name(), loaded.model(),
                o.steps() != null ? loaded.training().withSteps(o.steps()) : loaded.training(), loaded.data());
        config.checkFiles();
        long started = System.nanoTime();
        String commit = gitCommit(); // the code as it starts: edits made while it trains are not in the model
        TokenizedCorpus corpus = TokenizedCorpus.prepare(Path.of(config.data().corpus()),
                config.data().tokenizer() == null ? null : Path.of(config.data().tokenizer()), config.data().vocab(), o.cacheDir(), log);
        ModelConfig model = config.model();
        if (corpus.tokenizer().vocabSize() != model.vocabSize()) {
            throw new ConfigException("model.vocabSize", "is " + model.vocabSize() + " but the tokenizer has "
                    + corpus.tokenizer().vocabSize() + " tokens");
        }
        HashRouting hash = null;
        if (model.architecture().sparse() instanceof Architecture.Hash h) {
            hash = HashRouting.build(h.table(), h.experts(), TokenizedCorpus.counts(corpus.data().train(), model.vocabSize()), h.seed());
        }
        Path runDir = o.runsDir().resolve(config.name());
        Path checkpoints = runDir.resolve("checkpoints");
        TrainConfig.Training t = config.training();
        log.printf("%s: %s, %,d parameters (%,d active non-embedding), %,d training / %,d validation tokens%n", config.name(),
                model.architecture().kind(), model.totalParameters(), model.activeNonEmbeddingParameters(),
                corpus.data().train().length, corpus.data().validation().length);
        try (Trainer trainer = new Trainer(config, corpus.data(), hash)) {
            // Measured before and after training; the better figure is the machine's peak.
            double peakBefore = peakMatmulFlops(trainer.model().parameters().manager());
            int first = 0;
            if (o.resume() && Checkpoint.latest(checkpoints).isPresent()) {
                Path ckpt = Checkpoint.latest(checkpoints).get();
                first = Checkpoint.restore(trainer, ckpt);
                log.printf("resumed from %s (step %d)%n", ckpt, first);
            } else if (Files.exists(runDir)) {
                Checkpoint.deleteTree(runDir);
            }
            Files.createDirectories(runDir);
            Files.writeString(runDir.resolve("config.json"), config.toJson());
            TrainingLoop.Outcome outcome = TrainingLoop.run(trainer, Objective.CROSS_ENTROPY, runDir, first, checkpoints, log);
            Trainer.Evaluation eval = outcome.evaluation();
            double tokensPerSecond = outcome.tokensPerSecond();
            double flopsPerToken = trainingFlopsPerToken(model, t.seqLen());
            double peak = Math.max(peakBefore, peakMatmulFlops(trainer.model().parameters().manager()));
            Provenance provenance = new Provenance(config.data().corpus(), corpus.corpus().sha256(), trainer.completedSteps(),
                    (long) trainer.completedSteps() * t.tokensPerStep(), eval.loss(), eval.perplexity(), commit,
                    o.command(), Instant.now().toString(), null);
            // The settings that are not in the manifest's config (seed, schedule, tokenizer), so model.json alone says
            // how to train the model again.
            Map<String, Object> settings = Map.of("training", JSON.convertValue(t, Map.class),
                    "data", JSON.convertValue(config.data(), Map.class));
            PublishedModel published = ModelPublisher.publish(new ModelStore(o.store()), config.name(), trainer.model(),
                    corpus.tokenizer(), o.dtype(), provenance, settings);
            double wall = (System.nanoTime() - started) / 1e9;
            Result result = new Result(config.name(), describe(model.architecture()), model.totalParameters(),
                    model.activeNonEmbeddingParameters(), eval.loss(), eval.perplexity(), tokensPerSecond, wall, flopsPerToken,
                    peak, flopsPerToken * tokensPerSecond / peak, published, runDir);
            Files.writeString(runDir.resolve("result.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(summary(result)));
            return result;
        }
    }

    /**
     * Model FLOPs per trained token as in PaLM (Chowdhery et al., appendix B): 6·N for the matmuls of the active
     * parameters (non-embedding, plus the output projection that every token computes) and 12·L·d·T for attention
     * scores and values, with L counting every Ladder pass.
     */
    public static double trainingFlopsPerToken(ModelConfig model, int seqLen) {
        double passes = model.architecture().passes();
        double blocks = model.activeNonEmbeddingParameters() * passes + (double) model.vocabSize() * model.dModel();
        return 6 * blocks + 12.0 * model.layers() * passes * model.dModel() * seqLen;
    }

    /** Short description of an architecture, e.g. {@code ladder(2)+hash(16, balanced)}. */
    public static String describe(Architecture a) {
        return switch (a) {
            case Architecture.Dense d -> "dense";
            case Architecture.Switch s -> "switch(" + s.experts() + ")";
            case Architecture.TopK k -> "top" + k.k() + "(" + k.experts() + ")";
            case Architecture.Hash h -> "hash(" + h.experts() + ", " + h.table() + ")";
            case Architecture.Ladder l -> "ladder(" + l.passes() + ")" + (l.base() instanceof Architecture.Dense ? "" : "+" + describe(l.base()));
        };
    }

    static Map<String, Object> summary(Result r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", r.name());
        m.put("architecture", r.architecture());
        m.put("total_parameters", r.totalParameters());
        m.put("active_non_embedding_parameters", r.activeParameters());
        m.put("val_loss", r.validationLoss());
        m.put("val_ppl", r.validationPerplexity());
        m.put("tokens_per_s", r.tokensPerSecond());
        m.put("wall_s", r.wallSeconds());
        m.put("train_flops_per_token", r.flopsPerToken());
        m.put("peak_matmul_flops", r.peakFlops());
        m.put("mfu", r.mfu());
        m.put("model", r.published().dir().toString());
        return m;
    }

    /** Peak float32 matmul rate through DJL/PyTorch on this machine: the best of several 2048³ products. */
    static double peakMatmulFlops(NDManager parent) {
        int n = 2048;
        try (NDManager m = parent.newSubManager()) {
            NDArray a = m.randomUniform(-1, 1, new Shape(n, n));
            NDArray b = m.randomUniform(-1, 1, new Shape(n, n));
            double best = 0;
            for (int i = 0; i < 8; i++) {
                long t0 = System.nanoTime();
                NDArray c = a.matMul(b);
                c.getFloat(0, 0);
                double s = (System.nanoTime() - t0) / 1e9;
                c.close();
                best = Math.max(best, 2.0 * n * n * n / s);
            }
            return best;
        }
    }

    /** HEAD's commit, with {@code -dirty} (as {@code git describe --dirty}) when the work tree differs from it. */
    public static String gitCommit() {
        String head = git("rev-parse", "HEAD");
        if (head == null || !head.matches("[0-9a-f]{40}")) {
            return null;
        }
        String changes = git("status", "--porcelain");
        return changes == null || !changes.isEmpty() ? head + "-dirty" : head;
    }

    private static String git(String... args) {
        try {
            String[] command = new String[args.length + 1];
            command[0] = "git";
            System.arraycopy(args, 0, command, 1, args.length);
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes()).trim();
            return p.waitFor() == 0 ? out : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }
}
