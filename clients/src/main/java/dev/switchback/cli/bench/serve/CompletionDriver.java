package dev.switchback.cli.bench.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Sends streamed {@code POST /v1/completions} requests without blocking a thread per request, and turns each into
 * a {@link RequestResult}. A request still running {@code timeout} after it was sent is cancelled (the JDK client
 * then aborts the exchange, which closes its connection and so cancels the generation on the server).
 */
final class CompletionDriver implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final BenchConfig config;
    private final HttpClient http;
    private final URI completions;
    private final ScheduledExecutorService timeouts;
    private final Duration timeout;

    /** @param timeout how long a request may run before it is cancelled */
    CompletionDriver(BenchConfig config, Duration timeout) {
        this.config = config;
        this.timeout = timeout;
        // HTTP/1.1: over plain http the JDK would otherwise try an h2c upgrade first.
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
        this.completions = URI.create(config.url() + "/v1/completions");
        this.timeouts = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "bench-timeouts");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * The request body: streamed, usage in the last chunk, and {@code logprobs: 0} so that each token comes as its
     * own event (text alone would hide a token whose bytes do not yet end a character).
     */
    String body(String prompt, long seed) {
        ObjectNode body = JSON.createObjectNode()
                .put("model", config.model())
                .put("prompt", prompt)
                .put("max_tokens", config.outputTokens())
                .put("temperature", config.temperature())
                .put("seed", seed)
                .put("logprobs", 0)
                .put("stream", true);
        body.putObject("stream_options").put("include_usage", true);
        return body.toString();
    }

    /** Sends one request now; the future never fails: failures are results too. */
    CompletableFuture<RequestResult> send(String body) {
        HttpRequest.Builder request = HttpRequest.newBuilder(completions)
                .header("Content-Type", "application/json")
                .header("Accept", "text/event-stream")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (config.apiKey() != null) {
            request.header("Authorization", "Bearer " + config.apiKey());
        }
        long sent = System.nanoTime();
        // Cancel the future sendAsync returns itself: cancelling one derived from it would not abort the exchange.
        CompletableFuture<HttpResponse<SseRecorder.Stream>> exchange =
                http.sendAsync(request.build(), info -> new SseRecorder(info.statusCode()));
        var timer = timeouts.schedule(() -> exchange.cancel(true), timeout.toNanos(), TimeUnit.NANOSECONDS);
        return exchange.handle((response, error) -> {
            timer.cancel(false);
            long end = System.nanoTime();
            if (error instanceof CancellationException) {
                return RequestResult.failed("timeout", "still running after " + timeout.toMillis() / 1e3 + " s (--timeout-s)", sent, end);
            }
            return error == null ? RequestResult.of(sent, response.body()) : RequestResult.failed(error, sent, end);
        });
    }

    @Override
    public void close() {
        timeouts.shutdownNow();
        http.shutdownNow();
    }
}
