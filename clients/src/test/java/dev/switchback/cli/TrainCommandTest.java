package dev.switchback.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.store.ModelManifest;
import dev.switchback.store.Provenance;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainCommandTest {
    @TempDir
    Path dir;

    private Path config(String architecture) throws Exception {
        Path corpus = Path.of("../trainer/src/test/resources/kjv-excerpt.txt").toAbsolutePath();
        String json = """
                {"name": "cli-tiny",
                 "model": {"vocabSize": 300, "dModel": 32, "layers": 2, "heads": 2, "dFf": 64, "contextLength": 32,
                           "tiedEmbeddings": true, "ropeTheta": 10000, "normEps": 1e-5, "architecture": ARCH},
                 "training": {"steps": 6, "batchSize": 4, "seqLen": 32, "lr": 0.002, "minLrRatio": 0.1, "warmupSteps": 2,
                              "weightDecay": 0.1, "beta1": 0.9, "beta2": 0.95, "gradClip": 1.0, "dropout": 0.0, "seed": 1,
                              "evalEvery": 3, "evalTokens": 2048, "checkpointEvery": 3},
                 "data": {"corpus": "CORPUS", "tokenizer": null, "vocab": 300}}
                """.replace("ARCH", architecture).replace("CORPUS", corpus.toString());
        return Files.writeString(dir.resolve("config.json"), json);
    }

    private TokenizerCommandTest.Run train(Path config) {
        return TokenizerCommandTest.run("train", "--config", config.toString(), "--store", dir.resolve("store").toString(),
                "--runs", dir.resolve("runs").toString(), "--cache", dir.resolve("cache").toString());
    }

    @Test
    void trainsPublishesAndTheModelVerifiesAndEvaluates() throws Exception {
        TokenizerCommandTest.Run run = train(config("""
                {"kind": "hash", "experts": 4, "every": 2, "table": "balanced", "seed": 3, "expertDropout": 0.0}"""));
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("cli-tiny hash(4, balanced): val_loss"), run.out());
        assertTrue(run.out().contains("published"), run.out());
        Path runDir = dir.resolve("runs/cli-tiny");
        assertEquals(6, Files.readAllLines(runDir.resolve("metrics.jsonl")).size(), "one metrics line per step");
        assertTrue(Files.readString(runDir.resolve("metrics.jsonl")).contains("\"experts\""), "per-expert fractions logged");
        assertTrue(Files.isDirectory(runDir.resolve("checkpoints/step-00000003")));

        // model.json alone says how to train the model again: command, commit, corpus, seed and schedule.
        ModelManifest manifest = ModelManifest.read(dir.resolve("store/cli-tiny/1/model.json"));
        Provenance p = manifest.provenance();
        assertEquals("switchback train --config " + dir.resolve("config.json"), p.command());
        assertTrue(p.gitCommit() == null || p.gitCommit().matches("[0-9a-f]{40}(-dirty)?"), p.gitCommit());
        assertTrue(p.corpus().endsWith("kjv-excerpt.txt"), p.corpus());
        assertEquals(6, p.steps());
        assertEquals(6L * 4 * 32, p.tokensSeen());
        Map<?, ?> training = (Map<?, ?>) manifest.extra().get("training");
        assertEquals(1, ((Number) training.get("seed")).intValue());
        assertEquals(0.002, ((Number) training.get("lr")).doubleValue());
        assertEquals(300, ((Number) ((Map<?, ?>) manifest.extra().get("data")).get("vocab")).intValue());
        assertEquals("{content}\n", manifest.chatTemplate());

        TokenizerCommandTest.Run verify = TokenizerCommandTest.run("models", "verify", "--store", dir.resolve("store").toString());
        assertEquals(0, verify.exitCode(), verify.out() + verify.err());
        TokenizerCommandTest.Run eval = TokenizerCommandTest.run("eval", "--model", "cli-tiny", "--store", dir.resolve("store").toString(),
                "--corpus", "../trainer/src/test/resources/kjv-excerpt.txt", "--seq-len", "32");
        assertEquals(0, eval.exitCode(), eval.err());
        assertTrue(eval.out().contains("val_ppl"), eval.out());
    }

    @Test
    void badConfigFailsBeforeTrainingWithOneLineNamingTheField() throws Exception {
        TokenizerCommandTest.Run run = train(config("""
                {"kind": "switch", "experts": 1, "every": 2, "capacityFactorTrain": 1.25, "capacityFactorEval": 2.0,
                 "balanceLossAlpha": 0.01, "zLossCoef": 0.001, "initScale": 0.1, "expertDropout": 0.0}"""));
        assertEquals(2, run.exitCode());
        assertEquals("error: architecture.experts: a sparse model needs at least 2 experts, got 1", run.err().strip());
        assertFalse(Files.exists(dir.resolve("store")), "nothing published");
    }

    @Test
    void missingCorpusIsNamed() throws Exception {
        Path config = config("{\"kind\": \"dense\"}");
        Files.writeString(config, Files.readString(config).replaceAll("\"corpus\": \"[^\"]*\"", "\"corpus\": \"/no/such/corpus.txt\""));
        TokenizerCommandTest.Run run = train(config);
        assertEquals(2, run.exitCode());
        assertEquals("error: data.corpus: file does not exist: /no/such/corpus.txt", run.err().strip());
    }
}
