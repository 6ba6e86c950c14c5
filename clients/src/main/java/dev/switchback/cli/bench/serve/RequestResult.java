package dev.switchback.cli.bench.serve;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ConnectException;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpTimeoutException;
import java.util.Arrays;
import java.util.concurrent.CompletionException;

/**
 * What happened to one streamed request: when it was sent, when each output token arrived, when the stream
 * ended, and the server's own usage counts; or why it failed.
 *
 * @param errorKind null for a request that completed; else {@code http_<status>}, {@code stream_error},
 *     {@code timeout}, {@code connect} or {@code connection}
 * @param tokenArrivalNanos when each output token reached the client ({@link System#nanoTime()})
 * @param usagePromptTokens the server's {@code usage.prompt_tokens}, or -1 if it sent none
 * @param usageCompletionTokens the server's {@code usage.completion_tokens}, or -1 if it sent none
 */
public record RequestResult(String errorKind, String errorMessage, long sentNanos, long endNanos, long[] tokenArrivalNanos,
        int usagePromptTokens, int usageCompletionTokens) {
    private static final ObjectMapper JSON = new ObjectMapper();

    public boolean ok() {
        return errorKind == null;
    }

    /** Output tokens the client counted, one per token event (each carries its token's log-probability). */
    public int outputTokens() {
        return tokenArrivalNanos.length;
    }

    public long ttftNanos() {
        return tokenArrivalNanos[0] - sentNanos;
    }

    public long e2eNanos() {
        return endNanos - sentNanos;
    }

    /** Mean time per output token after the first: (e2e − ttft) / (tokens − 1); undefined (-1) for one token. */
    public long tpotNanos() {
        int n = outputTokens();
        return n < 2 ? -1 : (e2eNanos() - ttftNanos()) / (n - 1);
    }

    static RequestResult failed(String kind, String message, long sentNanos, long endNanos) {
        return new RequestResult(kind, message, sentNanos, endNanos, new long[0], -1, -1);
    }

    /** A request that ended with an exception instead of a response body. */
    static RequestResult failed(Throwable error, long sentNanos, long endNanos) {
        Throwable e = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        String kind;
        if (e instanceof HttpTimeoutException && !(e instanceof HttpConnectTimeoutException)) {
            kind = "timeout";
        } else if (e instanceof ConnectException || e instanceof HttpConnectTimeoutException) {
            kind = "connect";
        } else if (e instanceof IOException) {
            kind = "connection";
        } else {
            kind = "client_error";
        }
        return failed(kind, e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage(), sentNanos, endNanos);
    }

    /**
     * Reads a recorded stream: token events carry {@code choices[0].logprobs.tokens} (the benchmark asks for
     * log-probabilities so that every token, even one whose text is still incomplete, arrives as its own event);
     * a server that ignores {@code logprobs} is counted one token per event with text.
     */
    static RequestResult of(long sentNanos, SseRecorder.Stream stream) {
        if (stream.status() / 100 != 2) {
            return failed("http_" + stream.status(), errorMessage(stream.errorBody()), sentNanos, stream.endNanos());
        }
        long[] tokens = new long[16];
        int n = 0;
        int prompt = -1;
        int completion = -1;
        boolean done = false;
        for (int e = 0; e < stream.data().size() && !done; e++) {
            String data = stream.data().get(e);
            if (data.equals("[DONE]")) {
                done = true;
                continue;
            }
            JsonNode event;
            try {
                event = JSON.readTree(data);
            } catch (JsonProcessingException ex) {
                return failed("bad_response", "an event is not JSON: " + snippet(data), sentNanos, stream.endNanos());
            }
            if (event.has("error")) {
                return failed("stream_error", errorMessage(data), sentNanos, stream.endNanos());
            }
            JsonNode usage = event.path("usage");
            if (usage.isObject()) {
                prompt = usage.path("prompt_tokens").asInt(-1);
                completion = usage.path("completion_tokens").asInt(-1);
            }
            JsonNode choice = event.path("choices").path(0);
            if (choice.isMissingNode()) {
                continue;
            }
            JsonNode logprobTokens = choice.path("logprobs").path("tokens");
            int k = logprobTokens.isArray() ? logprobTokens.size()
                    : !choice.path("text").asText("").isEmpty() && choice.path("finish_reason").isNull() ? 1 : 0;
            for (int t = 0; t < k; t++) {
                if (n == tokens.length) {
                    tokens = Arrays.copyOf(tokens, n * 2);
                }
                tokens[n++] = stream.arrivalNanos()[e];
            }
        }
        if (!done) {
            return failed("stream_error", "the stream ended before data: [DONE]", sentNanos, stream.endNanos());
        }
        if (n == 0) {
            return failed("stream_error", "the stream carried no tokens", sentNanos, stream.endNanos());
        }
        return new RequestResult(null, null, sentNanos, stream.endNanos(), Arrays.copyOf(tokens, n), prompt, completion);
    }

    private static String errorMessage(String body) {
        try {
            JsonNode error = JSON.readTree(body).path("error");
            if (error.isObject()) {
                return error.path("type").asText("error") + ": " + error.path("message").asText("");
            }
        } catch (JsonProcessingException | RuntimeException e) {
            // not an OpenAI error body: quote it
        }
        return snippet(body == null ? "" : body);
    }

    private static String snippet(String text) {
        String line = text.strip().replaceAll("\\s+", " ");
        return line.length() <= 160 ? line : line.substring(0, 160) + "...";
    }
}
