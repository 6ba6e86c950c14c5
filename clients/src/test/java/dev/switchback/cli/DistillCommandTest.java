package dev.switchback.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.switchback.store.ModelStore;
import dev.switchback.store.TinyModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DistillCommandTest {
    @TempDir
    Path dir;

    private Path studentConfig(int vocab) throws Exception {
        Path corpus = Path.of("../trainer/src/test/resources/kjv-excerpt.txt").toAbsolutePath();
        String json = """
                {"name": "student", "model": {"vocabSize": VOCAB, "dModel": 8, "layers": 2, "heads": 2, "dFf": 16, "contextLength": 16,
                  "tiedEmbeddings": false, "ropeTheta": 10000, "normEps": 1e-5, "architecture": {"kind": "dense"}},
                 "training": {"steps": 2, "batchSize": 2, "seqLen": 16, "lr": 0.002, "minLrRatio": 0.1, "warmupSteps": 1,
                  "weightDecay": 0.1, "beta1": 0.9, "beta2": 0.95, "gradClip": 1.0, "dropout": 0.0, "seed": 1,
                  "evalEvery": 0, "evalTokens": 256, "checkpointEvery": 0},
                 "data": {"corpus": "CORPUS", "tokenizer": null, "vocab": VOCAB}}
                """.replace("VOCAB", String.valueOf(vocab)).replace("CORPUS", corpus.toString());
        return Files.writeString(dir.resolve("student-" + vocab + ".json"), json);
    }

    private TokenizerCommandTest.Run distill(String teacher, String... more) throws Exception {
        List<String> args = new ArrayList<>(List.of("distill", "--teacher", teacher, "--student-config", studentConfig(32).toString(),
                "--store", dir.resolve("store").toString(), "--runs", dir.resolve("runs").toString(), "--cache", dir.resolve("cache").toString()));
        args.addAll(List.of(more));
        return TokenizerCommandTest.run(args.toArray(String[]::new));
    }

    private static void assertOneLineError(String expected, TokenizerCommandTest.Run run) {
        assertEquals(2, run.exitCode(), run.err());
        assertEquals(expected, run.err().strip());
        assertFalse(run.err().strip().contains("\n"), run.err());
    }

    @Test
    void badSettingsAreRefusedBeforeAnyWork() throws Exception {
        TinyModels.publish(new ModelStore(dir.resolve("store")), "tiny-switch", 1);
        assertOneLineError("error: --alpha: must be in [0, 1], got 1.5", distill("tiny-switch", "--alpha", "1.5"));
        assertOneLineError("error: --alpha: must be in [0, 1], got -0.25", distill("tiny-switch", "--alpha", "-0.25"));
        assertOneLineError("error: --temperature: must be > 0, got 0.0", distill("tiny-switch", "--temperature", "0"));
        assertOneLineError("error: --steps: must be > 0, got 0", distill("tiny-switch", "--steps", "0"));
        assertOneLineError("error: --ffn-init: must be mean or expert0, got all", distill("tiny-switch", "--ffn-init", "all"));
        assertFalse(Files.exists(dir.resolve("runs")), "no run started");
    }

    @Test
    void aMissingOrUnreadableTeacherOrAnotherVocabularyIsOneLine() throws Exception {
        ModelStore store = new ModelStore(dir.resolve("store"));
        TinyModels.publish(store, "stub-tokenizer", 1);
        int vocab;
        try (var teacher = store.open(TinyModels.publishServable(store, "tiny-switch", 2).dir())) {
            vocab = teacher.config().vocabSize();
        }
        assertOneLineError("error: --teacher: no model named 'nope' in store " + store.root() + " (models: stub-tokenizer, tiny-switch)",
                distill("nope"));
        assertOneLineError("error: --teacher: no model folder at /no/such/teacher", distill("/no/such/teacher"));
        assertOneLineError("error: --teacher: " + store.root().resolve("stub-tokenizer/1") + " is not a readable model: "
                + store.root().resolve("stub-tokenizer/1/tokenizer.json") + ": missing pre_tokenizer; a ByteLevel pre_tokenizer is required",
                distill("stub-tokenizer"));
        assertOneLineError("error: --student-config: model.vocabSize is 32 but the teacher tiny-switch:1 has " + vocab + " tokens; "
                + "a student must share its teacher's tokenizer", distill("tiny-switch"));
    }
}
