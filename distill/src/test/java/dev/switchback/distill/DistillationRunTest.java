package dev.switchback.distill;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.switchback.store.ModelStore;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.PublishedModel;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.tokenizer.BpeTokenizer;
import dev.switchback.trainer.Evaluation;
import dev.switchback.trainer.ModelLoader;
import dev.switchback.trainer.model.Gpt;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class DistillationRunTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String DENSE = "{\"kind\": \"dense\"}";

    @TempDir
    static Path shared;
    private static Path teachers;
    private static Path cache;
    private static Map<String, PublishedModel> published;

    @TempDir
    Path dir;

    @BeforeAll
    static void trainTeachers() throws Exception {
        teachers = shared.resolve("teachers");
        cache = shared.resolve("cache");
        published = Map.of(
                "switch", Teachers.publish(teachers, cache, "switch-teacher", Teachers.switchArch(), 3),
                "hash", Teachers.publish(teachers, cache, "hash-teacher", Teachers.hashArch(), 3),
                "ladder", Teachers.publish(teachers, cache, "ladder-teacher", Teachers.ladderArch(), 3));
    }

    private DistillationRun.Options options(Path teacher, Path config, DistillationRun.Settings settings, Path baseline) {
        return new DistillationRun.Options(teacher, config, settings, baseline, dir.resolve("store"), null, dir.resolve("runs"), cache,
                "test");
    }

    private static DistillationRun.Settings settings(int steps) {
        return new DistillationRun.Settings(0.25, 2.0, steps, FfnInit.MEAN);
    }

    private DistillationRun.Result distill(Path teacher, Path config, DistillationRun.Settings settings, Path baseline) throws Exception {
        return DistillationRun.run(options(teacher, config, settings, baseline), new PrintWriter(new StringWriter()));
    }

    static List<String> kinds() {
        return List.of("switch", "hash", "ladder");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("kinds")
    void publishesAStudentThatLoadsAndNamesItsTeacher(String kind) throws Exception {
        PublishedModel teacher = published.get(kind);
        DistillationRun.Result r = distill(teacher.dir(), Teachers.studentConfig(dir, DENSE, Teachers.VOCAB, 4), settings(4), null);

        ModelStore store = new ModelStore(dir.resolve("store"));
        assertEquals("student-tiny-from-" + kind + "-teacher:1", r.student().ref().toString());
        assertEquals("student-tiny-scratch:1", r.baseline(), "the baseline was trained and published too");
        assertTrue(store.verify(r.student().dir()).ok(), store.verify(r.student().dir()).describe());
        try (OpenedModel opened = store.open(r.student().dir()); NDManager m = NDManager.newBaseManager();
                Gpt student = ModelLoader.load(m, opened, 0)) {
            assertEquals(new Architecture.Dense(), student.config().architecture(), "a dense, single-pass student");
            var provenance = opened.manifest().provenance();
            assertEquals(kind + "-teacher:1", provenance.teacher());
            assertEquals(4, provenance.steps());
            @SuppressWarnings("unchecked")
            Map<String, Object> d = (Map<String, Object>) opened.manifest().extra().get("distillation");
            assertEquals(0.25, d.get("alpha"));
            assertEquals(2.0, d.get("temperature"));
            assertEquals(4, d.get("steps"));
            assertEquals("mean", d.get("ffn_init"));
            @SuppressWarnings("unchecked")
            Map<String, Object> t = (Map<String, Object>) d.get("teacher");
            assertEquals(kind + "-teacher:1", t.get("model"));
            assertEquals(sha256(teacher.dir().resolve("SHA256SUMS")), t.get("sha256_of_sha256sums"));
            @SuppressWarnings("unchecked")
            Map<String, Object> init = (Map<String, Object>) d.get("init");
            assertEquals("teacher", init.get("from"));
            assertEquals(List.of(), init.get("random"), "every student tensor came from the teacher");
            assertEquals(kind.equals("ladder") ? 0 : 2, init.get("from_experts"));

            // The reported student perplexity is the published model's, on the corpus's validation split.
            Evaluation.Result eval = Evaluation.run(m, opened, Teachers.CORPUS, 32);
            assertEquals(Math.exp(eval.loss()), r.report().studentPerplexity(), 1e-3 * r.report().studentPerplexity());
            assertEquals(opened.manifest().provenance().evalPerplexity(), r.report().studentPerplexity(), 1e-9);
            BpeTokenizer own = BpeTokenizer.load(opened.tokenizerFile());
            assertEquals(Files.readString(teacher.dir().resolve("tokenizer.json")), Files.readString(opened.tokenizerFile()),
                    "the student keeps the teacher's tokenizer (" + own.vocabSize() + " tokens)");
        }

        JsonNode report = JSON.readTree(r.runDir().resolve("report.json").toFile());
        assertEquals(r.report().teacherPerplexity(), report.at("/teacher/val_ppl").asDouble(), 1e-9);
        assertEquals(r.report().densePerplexity(), report.at("/baseline/val_ppl").asDouble(), 1e-9);
        assertEquals(r.report().teacherBetter(), report.get("teacher_better").asBoolean());
        assertEquals(r.report().percentKept().isPresent(), report.has("percent_kept"));
        assertEquals(r.report().describe(), report.get("verdict").asText());
        assertEquals(r.student().ref().toString(), report.at("/student/model").asText());
        List<String> metrics = Files.readAllLines(r.runDir().resolve("metrics.jsonl"));
        assertEquals(4, metrics.size());
        assertTrue(metrics.getFirst().contains("\"soft_ce\""), metrics.getFirst());
        List<String> baseline = Files.readAllLines(r.runDir().resolve("baseline/metrics.jsonl"));
        assertEquals(4, baseline.size());
        assertFalse(baseline.getFirst().contains("soft_ce"), "the baseline trains on ground truth only");
    }

    @Test
    void aNamedBaselineIsEvaluatedInsteadOfTrained() throws Exception {
        Path config = Teachers.studentConfig(dir, DENSE, Teachers.VOCAB, 3);
        DistillationRun.Result first = distill(published.get("switch").dir(), config, settings(3), null);
        Path baselineDir = dir.resolve("store/student-tiny-scratch/1");
        DistillationRun.Result second = distill(published.get("hash").dir(), config, settings(3), baselineDir);
        assertEquals("student-tiny-scratch:1", second.baseline());
        assertEquals(first.report().densePerplexity(), second.report().densePerplexity(), 1e-6, "the same model, the same split");
        assertFalse(Files.exists(second.runDir().resolve("baseline")), "nothing trained from scratch");
        assertEquals(1, new ModelStore(dir.resolve("store")).versions("student-tiny-scratch").size());
    }

    @Test
    void aRandomlyInitialisedStudentWithoutTheTeacherIsTheBaseline() throws Exception {
        // Same configuration, seed, batches and loss: --init random --alpha 0 must retrace the baseline step for step.
        Path config = Teachers.studentConfig(dir, DENSE, Teachers.VOCAB, 3);
        DistillationRun.Result r = distill(published.get("switch").dir(), config,
                new DistillationRun.Settings(0, 1, 3, FfnInit.MEAN, false), null);
        assertEquals(r.report().densePerplexity(), r.report().studentPerplexity(), 1e-6 * r.report().densePerplexity());
        assertEquals(Files.readAllLines(r.runDir().resolve("baseline/metrics.jsonl")).stream().map(DistillationRunTest::lossOf).toList(),
                Files.readAllLines(r.runDir().resolve("metrics.jsonl")).stream().map(DistillationRunTest::lossOf).toList());
        JsonNode report = JSON.readTree(r.runDir().resolve("report.json").toFile());
        assertEquals("random", report.at("/init/from").asText());
        assertEquals("--init: must be teacher or random, got zeros",
                assertThrows(IllegalArgumentException.class, () -> DistillationRun.Settings.parseInit("zeros")).getMessage());
    }

    private static String lossOf(String metricsLine) {
        try {
            return JSON.readTree(metricsLine).get("loss").asText();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void badInputsFailWithOneLineNamingTheOption() throws Exception {
        Path good = Teachers.studentConfig(dir, DENSE, Teachers.VOCAB, 2);
        Path teacher = published.get("switch").dir();
        assertEquals("--alpha: must be in [0, 1], got 1.5",
                assertThrows(IllegalArgumentException.class, () -> new DistillationRun.Settings(1.5, 1, 2, FfnInit.MEAN)).getMessage());
        assertEquals("--temperature: must be > 0, got -1.0",
                assertThrows(IllegalArgumentException.class, () -> new DistillationRun.Settings(0.5, -1, 2, FfnInit.MEAN)).getMessage());
        assertEquals("--steps: must be > 0, got 0",
                assertThrows(IllegalArgumentException.class, () -> new DistillationRun.Settings(0.5, 1, 0, FfnInit.MEAN)).getMessage());
        assertEquals("--ffn-init: must be mean or expert0, got median",
                assertThrows(IllegalArgumentException.class, () -> FfnInit.parse("--ffn-init", "median")).getMessage());

        Path missing = dir.resolve("no-such-teacher");
        assertEquals("--teacher: no model folder at " + missing, failure(missing, good));

        Path broken = copy(teacher, dir.resolve("broken/1"));
        byte[] weights = Files.readAllBytes(broken.resolve("model.safetensors"));
        weights[weights.length - 1] ^= 1;
        Files.write(broken.resolve("model.safetensors"), weights);
        String corrupt = failure(broken, good);
        assertTrue(corrupt.startsWith("--teacher: " + broken + " is not a readable model: model.safetensors: "), corrupt);

        Path empty = Files.createDirectories(dir.resolve("empty/1"));
        assertTrue(failure(empty, good).startsWith("--teacher: " + empty + " is not a readable model: "), failure(empty, good));

        Path otherVocab = Teachers.studentConfig(dir, DENSE, 256, 2);
        assertEquals("--student-config: model.vocabSize is 256 but the teacher switch-teacher:1 has 300 tokens; "
                + "a student must share its teacher's tokenizer", failure(teacher, otherVocab));

        // Same size, other tokenizer: one trained on a slice of the corpus.
        BpeTokenizer other = BpeTokenizer.train(List.of("In the beginning God created the heaven and the earth."), Teachers.VOCAB,
                List.of(BpeTokenizer.END_OF_TEXT), null);
        Path otherFile = dir.resolve("other-tokenizer.json");
        other.save(otherFile);
        Path otherTokenizer = Files.writeString(dir.resolve("other-tok.json"),
                Files.readString(good).replace("\"tokenizer\": null", "\"tokenizer\": \"" + otherFile + "\""));
        String tokenizerError = failure(teacher, otherTokenizer);
        assertTrue(tokenizerError.startsWith("--student-config: data.tokenizer " + otherFile + " is not the teacher's tokenizer (token "),
                tokenizerError);

        Path sparse = Teachers.studentConfig(dir, """
                {"kind": "hash", "experts": 4, "every": 2, "table": "balanced", "seed": 7, "expertDropout": 0.0}""", Teachers.VOCAB, 2);
        assertEquals("--student-config " + sparse + ": the student must be dense, got hash(4, balanced)", failure(teacher, sparse));
        Path absent = dir.resolve("absent.json");
        assertEquals("--student-config: file does not exist: " + absent, failure(teacher, absent));

        assertEquals("--baseline: switch-teacher:1 must be a dense model, got switch(4)",
                assertThrows(IllegalArgumentException.class, () -> distill(teacher, good, settings(2), teacher)).getMessage());
        assertFalse(Files.exists(dir.resolve("store/student-tiny-from-switch-teacher")), "nothing published after a failure");
        for (String message : List.of(corrupt, tokenizerError)) {
            assertFalse(message.contains("\n"), "one line: " + message);
        }
    }

    private String failure(Path teacher, Path config) {
        return assertThrows(IllegalArgumentException.class, () -> distill(teacher, config, settings(2), null)).getMessage();
    }

    private static Path copy(Path from, Path to) throws Exception {
        Files.createDirectories(to);
        try (var files = Files.list(from)) {
            for (Path f : files.toList()) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
        return to;
    }

    private static String sha256(Path file) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }
}
