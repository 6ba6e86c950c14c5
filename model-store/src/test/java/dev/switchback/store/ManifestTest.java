package dev.switchback.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.ConfigException;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.safetensors.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ManifestTest {
    @TempDir
    Path tmp;

    private ModelManifest manifest(ModelConfig config) {
        return new ModelManifest(1, "tiny", config, "BF16", "tokenizer.json", List.of(1), "<|user|>{{content}}",
                new Provenance("kjv.txt", "a".repeat(64), 100, 12800, 2.5, Math.exp(2.5), "deadbeef",
                        "switchback train", "2025-01-01T00:00:00Z", null),
                Map.of("note", "hello", "n", 3));
    }

    @Test
    void roundTripsThroughJson() throws IOException {
        ModelConfig ladder = new ModelConfig(32, 8, 2, 2, 16, 16, true, 10000, 1e-5,
                new Architecture.Ladder(3, Architecture.Switch.defaults(4)));
        for (ModelConfig config : List.of(TinyModels.switchConfig(), ladder)) {
            ModelManifest m = manifest(config);
            Path file = tmp.resolve("model.json");
            m.write(file);
            assertEquals(m, ModelManifest.read(file));
        }
        String json = Files.readString(tmp.resolve("model.json"));
        assertTrue(json.contains("\"kind\" : \"ladder\""), json);
        assertTrue(json.contains("\"sparseLayers\" : [ 1 ]"), json);
    }

    @Test
    void derivesSparseLayers() {
        ModelManifest m = ModelManifest.of("tiny", TinyModels.hashConfig(), DType.F16, null, Provenance.unknown());
        assertEquals(List.of(0, 1), m.sparseLayers());
        assertEquals(DType.F16, m.weightDType());
        assertEquals(Map.of(), m.extra());
        ModelManifest more = manifest(TinyModels.switchConfig()).withExtra(Map.of("n", 4, "seed", 9L));
        assertEquals(Map.of("note", "hello", "n", 4, "seed", 9L), more.extra(), "added keys join, a repeated key takes the new value");
        assertEquals(manifest(TinyModels.switchConfig()).provenance(), more.provenance());
        ConfigException e = assertThrows(ConfigException.class, () -> new ModelManifest(1, "tiny",
                TinyModels.switchConfig(), "F32", "tokenizer.json", List.of(0, 1), null, Provenance.unknown(), null));
        assertEquals("sparseLayers", e.field());
    }

    @Test
    void namesTheBadField() throws IOException {
        Path file = tmp.resolve("model.json");
        manifest(TinyModels.switchConfig()).write(file);
        String good = Files.readString(file);

        assertField(file, good.replace("\"formatVersion\" : 1,", ""), "formatVersion", "is required");
        assertField(file, good.replace("\"formatVersion\" : 1", "\"formatVersion\" : 2"), "formatVersion", "must be 1");
        assertField(file, good.replace("\"tiedEmbeddings\" : false,", ""), "config.tiedEmbeddings", "is required");
        assertField(file, good.replace("\"zLossCoef\" : 0.001,", ""), "config.architecture.zLossCoef", "is required");
        assertField(file, good.replace("\"steps\" : 100,", ""), "provenance.steps", "is required");
        assertField(file, good.replace("\"steps\" : 100", "\"steps\" : -1"), "provenance.steps", "must be >= 0");
        assertField(file, good.replace("\"dModel\" : 8", "\"dModel\" : 0"), "config.dModel", "must be > 0");
        assertField(file, good.replace("\"experts\" : 4", "\"experts\" : 1"), "config.architecture.experts", "at least 2");
        assertField(file, good.replace("\"name\" : \"tiny\",", "\"name\" : \"tiny\", \"colour\" : 1,"), "colour",
                "unknown field");
        assertField(file, good.replace("\"kind\" : \"switch\"", "\"kind\" : \"mystery\""), "config.architecture",
                "mystery");
        assertField(file, good.replace("\"dtype\" : \"BF16\"", "\"dtype\" : \"F64\""), "dtype", "F32, BF16 or F16");
        assertField(file, good.replace("\"name\" : \"tiny\",", ""), "name", "got 'null'");
        assertField(file, good.substring(0, good.length() / 2), "model.json", "invalid JSON");
    }

    @Test
    void referenceLogitsRoundTripExactly() throws IOException {
        Random random = new Random(5);
        float[] logits = new float[500];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = Float.intBitsToFloat(random.nextInt()) % 100f;
            if (!Float.isFinite(logits[i])) {
                logits[i] = 1e-30f;
            }
        }
        logits[0] = Float.MIN_VALUE;
        logits[1] = -Float.MAX_VALUE;
        ReferenceLogits ref = new ReferenceLogits(List.of(new ReferenceLogits.Reference("p", new int[] {4, 2}, logits)));
        Path file = tmp.resolve("reference.json");
        ref.write(file);
        ReferenceLogits back = ReferenceLogits.read(file);
        assertEquals(ref, back);
        assertArrayEquals(logits, back.references().getFirst().logits());

        Files.writeString(file, "{\"references\":[{\"prompt\":\"p\",\"tokens\":[],\"logits\":[1.0]}]}");
        ConfigException e = assertThrows(ConfigException.class, () -> ReferenceLogits.read(file));
        assertEquals("references[0].tokens", e.field());
    }

    private static void assertField(Path file, String json, String field, String reason) throws IOException {
        Files.writeString(file, json);
        ConfigException e = assertThrows(ConfigException.class, () -> ModelManifest.read(file));
        assertEquals(field, e.field(), e.getMessage());
        assertTrue(e.getMessage().contains(reason), e.getMessage());
        assertTrue(e.getMessage().contains(file.toString()), "names the file: " + e.getMessage());
    }
}
