package dev.switchback.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.kernels.engine.Engine;
import dev.switchback.kernels.engine.Sequence;
import dev.switchback.store.ModelStore;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.PublishedModel;
import dev.switchback.store.TinyModels;
import dev.switchback.store.tokenizer.BpeTokenizer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GenerateCommandTest {
    @TempDir
    Path store;

    private PublishedModel model;
    private String out;
    private String err;

    @BeforeEach
    void publish() throws IOException {
        model = TinyModels.publishServable(new ModelStore(store), "tiny", 4);
    }

    @Test
    void greedyGenerationStreamsTheEnginesOwnContinuationAndASummary() throws IOException {
        String prompt = "And God said";
        assertEquals(0, run("generate", "--store", store.toString(), "--model", "tiny", "--prompt", prompt,
                "--max-tokens", "6", "--temperature", "0"), err);
        List<String> lines = out.lines().toList();
        String summary = lines.getLast();
        assertTrue(summary.matches("\\[\\d+ prompt tokens, \\d+ generated, stopped by (length|end of text); first token .* ms, .* tokens/s decode, switch F32]"), summary);
        // The same continuation computed directly on the engine.
        try (OpenedModel opened = new ModelStore(store).open(model.dir())) {
            BpeTokenizer tokenizer = BpeTokenizer.load(opened.tokenizerFile());
            Engine engine = Engine.load(opened, Engine.Options.defaults());
            List<Integer> ids = new ArrayList<>();
            try (Sequence seq = engine.newSequence()) {
                float[] logits = engine.prefill(seq, tokenizer.encode(prompt));
                for (int i = 0; i < 6; i++) {
                    int next = argmax(logits);
                    if (next == tokenizer.endOfTextId()) {
                        break;
                    }
                    ids.add(next);
                    logits = engine.forward(List.of(new Engine.Step(seq, new int[] {next})))[0];
                }
            }
            String expected = prompt + tokenizer.decode(ids.stream().mapToInt(Integer::intValue).toArray());
            assertEquals(expected, out.substring(0, out.lastIndexOf("\n[")));
            assertTrue(summary.contains(ids.size() + (ids.size() < 6 ? 1 : 0) + " generated"), summary);
        }
    }

    @Test
    void seededSamplingIsReproducible() {
        String[] args = {"generate", "--store", store.toString(), "--model", "tiny", "--prompt", "In the", "--max-tokens", "8",
            "--temperature", "1.0", "--top-p", "0.9", "--seed", "42"};
        assertEquals(0, run(args), err);
        String first = out.substring(0, out.lastIndexOf("\n["));
        assertEquals(0, run(args), err);
        assertEquals(first, out.substring(0, out.lastIndexOf("\n[")));
    }

    @Test
    void aPromptLongerThanTheContextFailsWithOneLine() {
        String prompt = "the light and the darkness ".repeat(40);
        assertEquals(2, run("generate", "--store", store.toString(), "--model", "tiny", "--prompt", prompt));
        assertTrue(err.startsWith("error: --prompt: the prompt has "), err);
        assertTrue(err.contains("the model's context is 64"), err);
        assertEquals(1, err.lines().count(), err);
    }

    @Test
    void badSamplingSettingsFailNamingTheField() {
        assertEquals(2, run("generate", "--store", store.toString(), "--model", "tiny", "--prompt", "In", "--temperature", "-1"));
        assertTrue(err.contains("temperature must be >= 0"), err);
        assertEquals(2, run("generate", "--store", store.toString(), "--model", "tiny", "--prompt", "In", "--top-p", "0"));
        assertTrue(err.contains("topP"), err);
    }

    static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    private int run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            return Main.run(args);
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
            out = o.toString(StandardCharsets.UTF_8);
            err = e.toString(StandardCharsets.UTF_8);
        }
    }
}
