package dev.switchback.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.server.models.ServableModels;
import dev.switchback.store.ModelStore;
import dev.switchback.store.model.Architecture;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExportOnnxCommandTest {
    @TempDir
    Path root;

    private Path store;
    private String out;
    private String err;

    @BeforeEach
    void publish() {
        store = root.resolve("store");
        ModelStore s = new ModelStore(store);
        ServableModels.publish(s, "dense", new Architecture.Dense(), 5);
        ServableModels.publish(s, "sparse", ServableModels.switchUnbounded(), 6);
    }

    @Test
    void exportsPublishesAndChecksTheGraphAgainstTheNativeEngine() throws Exception {
        Path file = root.resolve("exports/dense.onnx");
        assertEquals(0, run("export-onnx", "--store", store.toString(), "--model", "dense", "--out", file.toString(),
                "--publish", "dense-onnx"), err);
        assertTrue(Files.size(file) > 0);
        assertTrue(out.contains("wrote " + file + " ("), out);
        assertTrue(out.contains("opset 17, 2 blocks"), out);
        assertTrue(out.contains("published dense-onnx:1 at "), out);
        assertTrue(out.matches("(?s).*ok: ONNX Runtime vs native engine on 1 reference prompts \\(whole prompt \\+ 8 decode"
                + " steps each\\): max \\|Δ logit\\| = \\d\\.\\d\\de-0[5-9] of max \\|logit\\|.*"), out);
        assertTrue(new ModelStore(store).verify(new ModelStore(store).resolve("dense-onnx")).ok());
    }

    @Test
    void aSparseModelIsRefusedInOneLine() {
        assertEquals(2, run("export-onnx", "--store", store.toString(), "--model", "sparse", "--out", root.resolve("s.onnx").toString()));
        assertEquals("error: model sparse is a switch model; only dense models export to ONNX: distil it into a dense"
                + " student first", err.strip());
        assertFalse(Files.exists(root.resolve("s.onnx")));
    }

    @Test
    void withoutADestinationItSaysWhatToGive() {
        assertEquals(2, run("export-onnx", "--store", store.toString(), "--model", "dense"));
        assertEquals("error: give --out FILE, --publish NAME, or both", err.strip());
    }

    @Test
    void theNativeCommandsRefuseAnExportInOneLine() {
        assertEquals(0, run("export-onnx", "--store", store.toString(), "--model", "dense", "--publish", "dense-onnx",
                "--check-steps", "0"), err);
        assertFalse(out.contains("ONNX Runtime vs native"), out);
        assertEquals(2, run("generate", "--store", store.toString(), "--model", "dense-onnx", "--prompt", "In the"));
        assertEquals(1, err.lines().count(), err);
        assertTrue(err.startsWith("error: dense-onnx at ") && err.contains("is an ONNX export (model.onnx)"), err);
    }

    private int run(String... args) {
        CliRun r = CliRun.of(args);
        out = r.out();
        err = r.err();
        return r.exitCode();
    }
}
