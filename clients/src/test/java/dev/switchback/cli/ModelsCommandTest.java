package dev.switchback.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.store.ModelFiles;
import dev.switchback.store.ModelStore;
import dev.switchback.store.TinyModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelsCommandTest {
    @TempDir
    Path store;

    private String out;
    private String err;

    @BeforeEach
    void publish() throws IOException {
        ModelStore models = new ModelStore(store);
        TinyModels.publish(models, "tiny", 1);
        TinyModels.publish(models, "tiny", 2);
    }

    @Test
    void listShowsEveryVersion() {
        assertEquals(0, run("models", "list", "--store", store.toString()));
        assertTrue(out.lines().anyMatch(l -> l.startsWith("tiny:1") && l.contains("switch") && l.contains("F32")), out);
        assertTrue(out.lines().anyMatch(l -> l.startsWith("tiny:2")), out);
        assertEquals(3, out.lines().count(), out);
    }

    @Test
    void listOfAnEmptyStoreSaysSo() {
        assertEquals(0, run("models", "list", "--store", store.resolve("empty").toString()));
        assertTrue(out.startsWith("no models in "), out);
    }

    @Test
    void inspectShowsManifestFilesAndTensors() {
        assertEquals(0, run("models", "inspect", "--store", store.toString(), "tiny:1"));
        assertTrue(out.contains("Switch[experts=4, every=2"), out);
        assertTrue(out.contains("vocab 32, dModel 8, layers 2"), out);
        assertTrue(out.contains("sparse layers  [1]"), out);
        assertTrue(out.contains("model.safetensors"), out);
        assertTrue(out.lines().anyMatch(l -> l.trim().matches("tok_emb\\.weight\\s+F32\\s+\\[32, 8\\]")), out);
        assertTrue(out.lines().anyMatch(l -> l.trim().matches("blocks\\.1\\.experts\\.3\\.w2\\s+F32\\s+\\[8, 16\\]")), out);
        assertTrue(out.contains("steps 3") && out.contains("perplexity 24.53"), out);
    }

    @Test
    void verifyPassesIntactModelsAndFailsNamingTheDamagedFile() throws IOException {
        assertEquals(0, run("models", "verify", "--store", store.toString()));
        assertEquals(2, out.lines().filter(l -> l.startsWith("OK")).count(), out);

        Path experts = store.resolve("tiny/2").resolve(ModelFiles.experts(1));
        byte[] bytes = Files.readAllBytes(experts);
        bytes[bytes.length - 1] ^= 1;
        Files.write(experts, bytes);
        assertEquals(1, run("models", "verify", "--store", store.toString(), "tiny"));
        assertTrue(out.startsWith("FAILED"), out);
        assertTrue(out.contains("experts-1.safetensors: checksum mismatch"), out);
        assertEquals(0, run("models", "verify", "--store", store.toString(), "tiny:1"));
    }

    @Test
    void unknownModelIsAUserError() {
        assertEquals(2, run("models", "inspect", "--store", store.toString(), "nothing"));
        assertTrue(err.contains("no model named 'nothing'"), err);
    }

    private int run(String... args) {
        CliRun r = CliRun.of(args);
        out = r.out();
        err = r.err();
        return r.exitCode();
    }
}
