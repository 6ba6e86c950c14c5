package dev.switchback.distill;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.switchback.store.ModelManifest;
import dev.switchback.store.ModelStore;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.Provenance;
import dev.switchback.store.PublishedModel;
import dev.switchback.store.VerificationReport;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.safetensors.DType;
import dev.switchback.store.tokenizer.BpeTokenizer;
import dev.switchback.trainer.Checkpoint;
import dev.switchback.trainer.Evaluation;
import dev.switchback.trainer.ModelLoader;
import dev.switchback.trainer.ModelPublisher;
import dev.switchback.trainer.Objective;
import dev.switchback.trainer.TrainConfig;
import dev.switchback.trainer.Trainer;
import dev.switchback.trainer.TrainingLoop;
import dev.switchback.trainer.TrainingRun;
import dev.switchback.trainer.data.TokenizedCorpus;
import dev.switchback.trainer.model.Gpt;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The {@code switchback distill} job: a dense student, initialised from the teacher's weights ({@link StudentInit}),
 * trains on (1−α)·ground truth + α·teacher probabilities ({@link DistillationLoss}); a dense model of the same
 * configuration trains from scratch on the same batches for the same steps (or {@code --baseline} names one);
 * teacher, baseline and student are evaluated on the same validation split, and the student is published with
 * its teacher and the {@link GainReport} in its provenance. Every input is checked before the first step.
 */
public final class DistillationRun {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * The distillation's settings, checked at construction with a message naming the option.
     *
     * @param alpha weight of the teacher term, in [0, 1]
     * @param temperature softmax temperature T > 0 of the teacher (and student) in the soft term
     * @param steps student (and baseline) optimizer steps, or null for the student configuration's
     * @param ffnInit where the FFN of a block that is sparse in the teacher comes from
     * @param teacherInit initialise the student from the teacher's weights (the Switch recipe); false keeps its random
     *     initialisation, the same as the baseline's, to measure what the teacher's probabilities alone bring
     */
    public record Settings(double alpha, double temperature, Integer steps, FfnInit ffnInit, boolean teacherInit) {
        /** Settings of a student initialised from its teacher. */
        public Settings(double alpha, double temperature, Integer steps, FfnInit ffnInit) {
            this(alpha, temperature, steps, ffnInit, true);
        }

        /** Parses {@code --init}: {@code teacher} or {@code random}. */
        public static boolean parseInit(String value) {
            return switch (value == null ? "" : value) {
                case "teacher" -> true;
                case "random" -> false;
                default -> throw new IllegalArgumentException("--init: must be teacher or random, got " + value);
            };
        }

        public Settings {
            DistillationLoss.checkAlpha(alpha);
            DistillationLoss.checkTemperature(temperature);
            if (steps != null && steps <= 0) {
                throw new IllegalArgumentException("--steps: must be > 0, got " + steps);
            }
            if (ffnInit == null) {
                throw new IllegalArgumentException("--ffn-init: must be mean or expert0");
            }
        }
    }

    /**
     * @param teacher the teacher's model folder
     * @param studentConfig trainer configuration of the dense student (its data section names the corpus)
     * @param settings α, T, steps and FFN initialisation
     * @param baseline folder of a dense model trained from scratch to compare against, or null to train one here
     * @param store where the student (and a baseline trained here) are published
     * @param name the student's name, or null for {@code <config name>-from-<teacher name>}
     * @param runsDir where the run folder goes
     * @param cacheDir encoded-corpus cache
     * @param command the command line, recorded in provenance
     */
    public record Options(Path teacher, Path studentConfig, Settings settings, Path baseline, Path store, String name,
            Path runsDir, Path cacheDir, String command) {}

    /**
     * What a finished run reports.
     *
     * @param summary the figures written to {@code report.json} (and, but for the student's own name, its provenance)
     */
    public record Result(GainReport report, PublishedModel student, String teacher, String baseline, Path runDir,
            Map<String, Object> summary) {}

    /** A verified model from a folder, loaded for training-side use. */
    private record Stored(Gpt model, ModelManifest manifest, String ref, String checksum, BpeTokenizer tokenizer, Path tokenizerFile) {}

    private DistillationRun() {}

    public static Result run(Options o, PrintWriter log) throws IOException {
        Settings s = o.settings();
        TrainConfig loaded = loadStudentConfig(o.studentConfig());
        ModelStore store = new ModelStore(o.store());
        long started = System.nanoTime();
        try (NDManager root = NDManager.newBaseManager()) {
            Stored teacher = open(store, o.teacher(), "--teacher", root);
            checkStudentAgainstTeacher(loaded, teacher);
            String name = o.name() != null ? o.name() : loaded.name() + "-from-" + teacher.manifest().name();
            TrainConfig config = new TrainConfig(name, loaded.model(),
                    s.steps() != null ? loaded.training().withSteps(s.steps()) : loaded.training(), loaded.data());
            int steps = config.training().steps();
            int seqLen = config.training().seqLen();
            // The student reads the corpus through the teacher's tokenizer: the soft targets are over its vocabulary.
            TokenizedCorpus corpus = TokenizedCorpus.prepare(Path.of(config.data().corpus()), teacher.tokenizerFile(),
                    config.model().vocabSize(), o.cacheDir(), log);
            Provenance tp = teacher.manifest().provenance();
            if (tp.corpusSha256() != null && !tp.corpusSha256().equals(corpus.corpus().sha256())) {
                log.printf("note: the teacher was trained on another corpus (%s) than the student's (%s)%n", tp.corpus(),
                        config.data().corpus());
            }
            int[] validation = corpus.data().validation();
            double teacherPpl = perplexity(teacher.model(), validation, seqLen);
            log.printf(Locale.ROOT, "teacher %s: %s, validation ppl %.2f over %,d tokens%n", teacher.ref(),
                    TrainingRun.describe(teacher.manifest().config().architecture()), teacherPpl, validation.length);

            Path runDir = o.runsDir().resolve(name);
            if (Files.exists(runDir)) {
                Checkpoint.deleteTree(runDir);
            }
            Files.createDirectories(runDir);
            Files.writeString(runDir.resolve("config.json"), config.toJson());

            Map<String, Object> baseline = new LinkedHashMap<>();
            double densePpl;
            if (o.baseline() != null) {
                Stored b = open(store, o.baseline(), "--baseline", root);
                checkBaseline(b, teacher);
                densePpl = perplexity(b.model(), validation, seqLen);
                long bSteps = b.manifest().provenance().steps();
                baseline.put("model", b.ref());
                baseline.put("trained_here", false);
                baseline.put("steps", bSteps);
                if (bSteps != steps) {
                    log.printf("note: the baseline %s trained for %d steps, the student for %d%n", b.ref(), bSteps, steps);
                }
                b.model().close();
            } else {
                String scratch = loaded.name() + "-scratch";
                log.printf("baseline %s: %s from scratch for %d steps (alpha 0, random init, same batches)%n", scratch, loaded.name(), steps);
                TrainConfig bc = new TrainConfig(scratch, config.model(), config.training(), config.data());
                try (Trainer trainer = new Trainer(bc, corpus.data(), null)) {
                    TrainingLoop.run(trainer, Objective.CROSS_ENTROPY, runDir.resolve("baseline"), 0, null, log);
                    Evaluation.Result eval = Evaluation.of(trainer.model(), validation, seqLen);
                    densePpl = Math.exp(eval.loss());
                    Provenance p = provenance(config, corpus, steps, eval, o.command() + " (its dense baseline: alpha 0, random init)", null);
                    PublishedModel published = ModelPublisher.publish(store, scratch, trainer.model(), corpus.tokenizer(), DType.F32, p,
                            Map.of("distillation", Map.of("role", "baseline", "alpha", 0.0, "init", "random", "steps", steps)));
                    baseline.put("model", published.ref().toString());
                    baseline.put("trained_here", true);
                    baseline.put("steps", steps);
                }
            }
            baseline.put("val_ppl", densePpl);
            log.printf(Locale.ROOT, "baseline %s: validation ppl %.2f%n", baseline.get("model"), densePpl);

            try (Trainer trainer = new Trainer(config, corpus.data(), null)) {
                Map<String, Object> initialised = new LinkedHashMap<>();
                String initDescription;
                if (s.teacherInit()) {
                    StudentInit.Summary init = StudentInit.apply(teacher.model(), trainer.model(), s.ffnInit());
                    initialised.put("from", "teacher");
                    initialised.put("copied", init.copied().size());
                    initialised.put("from_experts", init.fromExperts().size());
                    initialised.put("random", init.random());
                    initDescription = "initialised from the teacher (" + init.describe(s.ffnInit()) + ")";
                } else {
                    initialised.put("from", "random");
                    initDescription = "random initialisation, the baseline's (--init random)";
                }
                double initPpl = perplexity(trainer.model(), validation, seqLen);
                log.printf(Locale.ROOT, "student %s: %s: validation ppl %.2f before training%n", name, initDescription, initPpl);
                DistillationLoss loss = new DistillationLoss(teacher.model(), s.alpha(), s.temperature());
                TrainingLoop.Outcome outcome = TrainingLoop.run(trainer, loss, runDir, 0, null, log);
                Evaluation.Result eval = Evaluation.of(trainer.model(), validation, seqLen);
                GainReport report = new GainReport(teacherPpl, densePpl, Math.exp(eval.loss()));

                Map<String, Object> summary = new LinkedHashMap<>();
                Map<String, Object> t = new LinkedHashMap<>();
                t.put("model", teacher.ref());
                t.put("architecture", TrainingRun.describe(teacher.manifest().config().architecture()));
                t.put("sha256_of_sha256sums", teacher.checksum());
                t.put("val_ppl", teacherPpl);
                summary.put("teacher", t);
                summary.put("baseline", baseline);
                Map<String, Object> student = new LinkedHashMap<>();
                student.put("config", o.studentConfig().toString());
                student.put("init_val_ppl", initPpl);
                student.put("val_ppl", report.studentPerplexity());
                student.put("tokens_per_s", outcome.tokensPerSecond());
                summary.put("student", student);
                summary.put("alpha", s.alpha());
                summary.put("temperature", s.temperature());
                summary.put("soft_term_scale", "T^2");
                summary.put("steps", steps);
                summary.put("ffn_init", s.ffnInit().label());
                summary.put("init", initialised);
                summary.put("validation_tokens", eval.tokens());
                summary.put("teacher_better", report.teacherBetter());
                if (report.percentKept().isPresent()) {
                    summary.put("percent_kept", report.percentKept().getAsDouble());
                }
                summary.put("verdict", report.describe());

                Provenance p = provenance(config, corpus, steps, eval, o.command(), teacher.ref());
                PublishedModel published = ModelPublisher.publish(store, name, trainer.model(), corpus.tokenizer(), DType.F32, p,
                        Map.of("distillation", summary));
                student.put("model", published.ref().toString());
                summary.put("wall_s", (System.nanoTime() - started) / 1e9);
                Files.writeString(runDir.resolve("report.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(summary));
                return new Result(report, published, teacher.ref(), (String) baseline.get("model"), runDir, summary);
            }
        }
    }

    private static TrainConfig loadStudentConfig(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("--student-config: file does not exist: " + file);
        }
        try {
            TrainConfig config = TrainConfig.load(file);
            config.checkFiles();
            if (!(config.model().architecture() instanceof Architecture.Dense)) {
                throw new IllegalArgumentException("the student must be dense, got "
                        + TrainingRun.describe(config.model().architecture()));
            }
            return config;
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--student-config " + file + ": " + e.getMessage());
        }
    }

    /** The student must speak the teacher's vocabulary and fit its context. */
    private static void checkStudentAgainstTeacher(TrainConfig student, Stored teacher) throws IOException {
        int vocab = teacher.manifest().config().vocabSize();
        if (student.model().vocabSize() != vocab) {
            throw new IllegalArgumentException(String.format("--student-config: model.vocabSize is %d but the teacher %s has %d tokens; "
                    + "a student must share its teacher's tokenizer", student.model().vocabSize(), teacher.ref(), vocab));
        }
        if (student.data().tokenizer() != null) {
            BpeTokenizer own = BpeTokenizer.load(Path.of(student.data().tokenizer()));
            for (int id = 0; id < vocab; id++) {
                if (id >= own.vocabSize() || !own.token(id).equals(teacher.tokenizer().token(id))) {
                    throw new IllegalArgumentException(String.format("--student-config: data.tokenizer %s is not the teacher's "
                            + "tokenizer (token %d is %s there, %s in %s)", student.data().tokenizer(), id,
                            id < own.vocabSize() ? "'" + own.token(id) + "'" : "missing", "'" + teacher.tokenizer().token(id) + "'",
                            teacher.ref()));
                }
            }
        }
        int context = teacher.manifest().config().contextLength();
        if (student.training().seqLen() > context) {
            throw new IllegalArgumentException(String.format("--student-config: training.seqLen %d is longer than the teacher's "
                    + "context (%d tokens)", student.training().seqLen(), context));
        }
    }

    private static void checkBaseline(Stored baseline, Stored teacher) {
        Architecture a = baseline.manifest().config().architecture();
        if (!(a instanceof Architecture.Dense)) {
            throw new IllegalArgumentException("--baseline: " + baseline.ref() + " must be a dense model, got " + TrainingRun.describe(a));
        }
        if (baseline.manifest().config().vocabSize() != teacher.manifest().config().vocabSize()) {
            throw new IllegalArgumentException(String.format("--baseline: %s has %d tokens, the teacher %s %d",
                    baseline.ref(), baseline.manifest().config().vocabSize(), teacher.ref(), teacher.manifest().config().vocabSize()));
        }
    }

    /** Verifies and loads a model folder; any problem is one line naming {@code option}. */
    private static Stored open(ModelStore store, Path dir, String option, NDManager manager) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException(option + ": no model folder at " + dir);
        }
        VerificationReport report = store.verify(dir);
        if (!report.ok()) {
            int more = report.problems().size() - 1;
            throw new IllegalArgumentException(option + ": " + dir + " is not a readable model: " + report.problems().getFirst()
                    + (more > 0 ? " (and " + more + " more; see switchback models verify)" : ""));
        }
        try (OpenedModel opened = store.open(dir)) {
            BpeTokenizer tokenizer = BpeTokenizer.load(opened.tokenizerFile());
            Gpt model = ModelLoader.load(manager, opened, 0);
            String ref = opened.manifest().name() + ":" + dir.toAbsolutePath().normalize().getFileName();
            return new Stored(model, opened.manifest(), ref, opened.checksum(), tokenizer, opened.tokenizerFile());
        } catch (IOException | IllegalArgumentException e) {
            // Checksums passed but a file's content does not parse (a tokenizer, a manifest written by other code).
            throw new IllegalArgumentException(option + ": " + dir + " is not a readable model: " + e.getMessage());
        }
    }

    private static double perplexity(Gpt model, int[] tokens, int seqLen) {
        return Math.exp(Evaluation.of(model, tokens, seqLen).loss());
    }

    private static Provenance provenance(TrainConfig config, TokenizedCorpus corpus, int steps, Evaluation.Result eval,
            String command, String teacher) {
        return new Provenance(config.data().corpus(), corpus.corpus().sha256(), steps, (long) steps * config.training().tokensPerStep(),
                eval.loss(), Math.exp(eval.loss()), TrainingRun.gitCommit(), command, Instant.now().toString(), teacher);
    }
}
