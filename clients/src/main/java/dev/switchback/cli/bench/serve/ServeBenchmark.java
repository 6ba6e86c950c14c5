package dev.switchback.cli.bench.serve;

import dev.switchback.client.Completion;
import dev.switchback.client.CompletionRequest;
import dev.switchback.client.SwitchbackClient;
import dev.switchback.client.SwitchbackException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * The serving benchmark against one model of a running server: checks the server and the model first, measures
 * how many corpus characters the server's tokenizer makes one token (so prompts can be cut to about
 * {@code --prompt-len} tokens), warms the server up with one full request, then runs loads and reports.
 */
public final class ServeBenchmark {
    private static final int CALIBRATION_REQUESTS = 4;
    /** How long the probe, the calibration requests and the warm-up may take, whatever --timeout-s says. */
    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(30);

    private final BenchConfig base;
    private final List<String> texts;
    private final PrintWriter progress;
    private final double charsPerToken;

    private ServeBenchmark(BenchConfig base, List<String> texts, PrintWriter progress, double charsPerToken) {
        this.base = base;
        this.texts = texts;
        this.progress = progress;
        this.charsPerToken = charsPerToken;
    }

    /**
     * Probes the server ({@code GET /v1/models}), reads the corpus, calibrates the prompt length and warms up.
     *
     * @throws IllegalStateException when the server cannot be reached or a calibration or warm-up request fails
     * @throws IllegalArgumentException when the server does not serve the model
     */
    public static ServeBenchmark prepare(BenchConfig config, Path corpus, PrintWriter progress) throws IOException {
        try (SwitchbackClient client = SwitchbackClient.builder().url(config.url().toString()).apiKey(config.apiKey())
                .connectTimeout(Duration.ofSeconds(5)).requestTimeout(PROBE_TIMEOUT).build()) {
            probe(client, config);
            List<String> texts = PromptSource.corpusTexts(corpus);
            double ratio = calibrate(client, config, new PromptSource(texts, ~config.seed()));
            ServeBenchmark bench = new ServeBenchmark(config, texts, progress, ratio);
            progress.printf(Locale.ROOT, "%s at %s: %.2f characters per token; prompts of %d characters for about %d tokens%n",
                    config.model(), config.url(), ratio, bench.promptChars(), config.promptTokens());
            progress.flush();
            bench.warmUp();
            return bench;
        }
    }

    /** Runs the configured load. */
    public BenchReport run() throws InterruptedException {
        return run(base);
    }

    /** Runs one load; every run sends the same sequence of prompts, so loads compare like with like. */
    public BenchReport run(BenchConfig config) throws InterruptedException {
        PromptSource prompts = new PromptSource(texts, config.seed());
        int chars = promptChars();
        try (CompletionDriver driver = new CompletionDriver(config, config.requestTimeout())) {
            LoadRunner runner = new LoadRunner(config, driver, i -> driver.body(prompts.next(chars), config.seed() + i), progress);
            return BenchReport.of(config, runner.run());
        }
    }

    /** Characters of corpus text that make about {@code --prompt-len} tokens. */
    int promptChars() {
        return (int) Math.max(1, Math.round(base.promptTokens() * charsPerToken));
    }

    private static void probe(SwitchbackClient client, BenchConfig config) {
        List<String> models;
        try {
            models = client.models();
        } catch (SwitchbackException e) {
            throw new IllegalStateException("cannot reach a switchback server at " + config.url() + " (GET /v1/models: " + e.describe() + ")");
        }
        if (!models.contains(config.model())) {
            throw new IllegalArgumentException("model '" + config.model() + "' is not served at " + config.url() + " (it serves: "
                    + (models.isEmpty() ? "nothing" : String.join(", ", models)) + ")");
        }
    }

    // The server's own count of prompt tokens over a few corpus cuts, so prompts need no local tokenizer: a first
    // round at a guess of 4 characters per token, a second at the length the first round says gives --prompt-len.
    private static double calibrate(SwitchbackClient client, BenchConfig config, PromptSource prompts) {
        double ratio = 4;
        for (int round = 0; round < 2; round++) {
            long chars = 0;
            long tokens = 0;
            for (int i = 0; i < CALIBRATION_REQUESTS; i++) {
                String prompt = prompts.next((int) Math.max(1, Math.round(config.promptTokens() * ratio)));
                Completion c;
                try {
                    c = client.complete(CompletionRequest.of(config.model(), prompt).withMaxTokens(1).withTemperature(0.0));
                } catch (SwitchbackException e) {
                    throw new IllegalStateException("a calibration request failed: " + e.describe());
                }
                if (c.usage() == null || c.usage().promptTokens() <= 0) {
                    throw new IllegalStateException("the server's answer carries no usage.prompt_tokens; cannot size prompts");
                }
                chars += prompt.length();
                tokens += c.usage().promptTokens();
            }
            ratio = (double) chars / tokens;
        }
        return ratio;
    }

    // One request of the full shape, so the first timed requests do not pay for the server's first compilation.
    private void warmUp() {
        try (CompletionDriver driver = new CompletionDriver(base, PROBE_TIMEOUT)) {
            RequestResult r = driver.send(driver.body(new PromptSource(texts, ~base.seed()).next(promptChars()), base.seed())).join();
            if (!r.ok()) {
                throw new IllegalStateException("the warm-up request failed: " + r.errorKind() + ": " + r.errorMessage());
            }
        }
    }
}
