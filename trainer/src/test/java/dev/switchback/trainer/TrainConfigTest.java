package dev.switchback.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.ConfigException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainConfigTest {
    private static final String VALID = """
            {"name": "t",
             "model": {"vocabSize": 64, "dModel": 32, "layers": 2, "heads": 2, "dFf": 64, "contextLength": 32,
                       "tiedEmbeddings": true, "ropeTheta": 10000, "normEps": 1e-5,
                       "architecture": {"kind": "switch", "experts": 4, "every": 2, "capacityFactorTrain": 1.25,
                                        "capacityFactorEval": 2.0, "balanceLossAlpha": 0.01, "zLossCoef": 0.001,
                                        "initScale": 0.1, "expertDropout": 0.1}},
             "training": {"steps": 10, "batchSize": 4, "seqLen": 16, "lr": 0.001, "minLrRatio": 0.1, "warmupSteps": 2,
                          "weightDecay": 0.1, "beta1": 0.9, "beta2": 0.95, "gradClip": 1.0, "dropout": 0.0, "seed": 1,
                          "evalEvery": 0, "evalTokens": 0, "checkpointEvery": 0},
             "data": {"corpus": "CORPUS", "tokenizer": null, "vocab": 64}}
            """;

    @Test
    void validConfigParsesAndRoundTrips() throws Exception {
        TrainConfig c = TrainConfig.parse(VALID);
        assertTrue(c.model().architecture() instanceof Architecture.Switch);
        assertEquals(c, TrainConfig.parse(c.toJson()));
    }

    @Test
    void unknownArchitectureNamesTheField() {
        ConfigException e = assertThrows(ConfigException.class, () -> TrainConfig.parse(VALID.replace("\"switch\"", "\"mixture\"")));
        assertEquals("model.architecture.kind", e.field());
        assertTrue(e.getMessage().contains("mixture"), e.getMessage());
    }

    @Test
    void negativeSizeNamesTheField() {
        ConfigException e = assertThrows(ConfigException.class, () -> TrainConfig.parse(VALID.replace("\"dModel\": 32", "\"dModel\": -32")));
        assertEquals("model.dModel", e.field());
    }

    @Test
    void sparseModelWithOneExpertIsRejected() {
        ConfigException e = assertThrows(ConfigException.class, () -> TrainConfig.parse(VALID.replace("\"experts\": 4", "\"experts\": 1")));
        assertEquals("architecture.experts", e.field());
        assertTrue(e.getMessage().contains("at least 2 experts"), e.getMessage());
    }

    @Test
    void missingCorpusFailsBeforeTraining(@TempDir Path dir) throws Exception {
        TrainConfig c = TrainConfig.parse(VALID.replace("CORPUS", dir.resolve("nope.txt").toString()));
        ConfigException e = assertThrows(ConfigException.class, c::checkFiles);
        assertEquals("data.corpus", e.field());
    }

    @Test
    void unknownFieldAndMissingFileAreReported(@TempDir Path dir) throws Exception {
        ConfigException e = assertThrows(ConfigException.class, () -> TrainConfig.parse(VALID.replace("\"seed\": 1", "\"seed\": 1, \"sed\": 2")));
        assertTrue(e.getMessage().contains("sed"), e.getMessage());
        assertThrows(ConfigException.class, () -> TrainConfig.load(dir.resolve("missing.json")));
        Path bad = Files.writeString(dir.resolve("bad.json"), VALID.replace("\"steps\": 10", "\"steps\": 0"));
        assertEquals("training.steps", assertThrows(ConfigException.class, () -> TrainConfig.load(bad)).field());
    }
}
