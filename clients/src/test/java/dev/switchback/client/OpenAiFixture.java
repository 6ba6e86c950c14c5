package dev.switchback.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * A protocol fixture: the JDK's HTTP server answering {@code /v1/completions} and {@code /v1/models} with fixed
 * OpenAI-shaped responses, picked by the request's model. Real-server tests come with the HTTP layer.
 *
 * <ul>
 *   <li>{@code fixed}: "Hello, world!" (finish "stop", usage 3/4/7), streamed as three pieces in varied SSE
 *       spellings (CRLF, comments, no space after "data:", an event field);
 *   <li>{@code missing}: 404 with an OpenAI error body; {@code broken}: 502 with an HTML body;
 *   <li>{@code cut}: a stream that ends before {@code data: [DONE]}; {@code fails-mid-stream}: an error chunk;
 *   <li>{@code gated}: streams "Hello" and waits for {@link #release()} before the rest;
 *   <li>with an API key set, requests without {@code Authorization: Bearer KEY} get 401.
 * </ul>
 */
public final class OpenAiFixture implements AutoCloseable {
    static final String COMPLETION = """
            {"id":"cmpl-fixed-1","object":"text_completion","created":1700000000,"model":"fixed",
             "choices":[{"text":"Hello, world!","index":0,"logprobs":null,"finish_reason":"stop"}],
             "usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}""";

    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpServer server;
    private final String apiKey;
    private final CountDownLatch gate = new CountDownLatch(1);
    volatile JsonNode lastBody;
    volatile String lastAuthorization;

    public OpenAiFixture(String apiKey) {
        this.apiKey = apiKey;
        try {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.createContext("/v1/models", this::models);
        server.createContext("/v1/completions", this::completions);
        server.start();
    }

    public OpenAiFixture() {
        this(null);
    }

    public String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    /** Lets the {@code gated} stream go on. */
    public void release() {
        gate.countDown();
    }

    private void models(HttpExchange x) throws IOException {
        if (authorized(x)) {
            reply(x, 200, "application/json", """
                    {"object":"list","data":[{"id":"fixed","object":"model","created":1700000000,"owned_by":"switchback"},
                     {"id":"other","object":"model","created":1700000000,"owned_by":"switchback"}]}""");
        }
    }

    private void completions(HttpExchange x) throws IOException {
        lastAuthorization = x.getRequestHeaders().getFirst("Authorization");
        JsonNode body = JSON.readTree(x.getRequestBody());
        lastBody = body;
        if (!authorized(x)) {
            return;
        }
        boolean stream = body.path("stream").asBoolean(false);
        switch (body.path("model").asText()) {
            case "missing" -> reply(x, 404, "application/json", """
                    {"error":{"message":"The model 'missing' does not exist","type":"invalid_request_error",
                     "param":"model","code":"model_not_found"}}""");
            case "broken" -> reply(x, 502, "text/html", "<html><body>Bad Gateway</body></html>");
            case "cut" -> sse(x, "data: " + chunk("Hel", null) + "\n\n");
            case "fails-mid-stream" -> sse(x, "data: " + chunk("Hel", null) + "\n\n"
                    + "data: {\"error\":{\"message\":\"engine failed\",\"type\":\"server_error\"}}\n\n");
            case "gated" -> gated(x);
            default -> {
                if (stream) {
                    sse(x, ": keep-alive\r\n\r\n"
                            + "data: " + chunk("Hello", null) + "\r\n\r\n"
                            + "event: message\ndata:" + chunk(", ", null) + "\n\n"
                            + "data: " + chunk("world!", "stop") + "\n\n"
                            + "data: {\"id\":\"cmpl-fixed-1\",\"object\":\"text_completion\",\"model\":\"fixed\",\"choices\":[],"
                            + "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,\"total_tokens\":7}}\n\n"
                            + "data: [DONE]\n\n");
                } else {
                    reply(x, 200, "application/json", COMPLETION);
                }
            }
        }
    }

    private void gated(HttpExchange x) throws IOException {
        x.getResponseHeaders().set("Content-Type", "text/event-stream");
        x.sendResponseHeaders(200, 0);
        try (OutputStream out = x.getResponseBody()) {
            out.write(("data: " + chunk("Hello", null) + "\n\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            if (!gate.await(10, TimeUnit.SECONDS)) {
                return;
            }
            out.write(("data: " + chunk(" again", "length") + "\n\ndata: [DONE]\n\n").getBytes(StandardCharsets.UTF_8));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String chunk(String text, String finishReason) {
        return "{\"id\":\"cmpl-fixed-1\",\"object\":\"text_completion\",\"created\":1700000000,\"model\":\"fixed\","
                + "\"choices\":[{\"text\":\"" + text + "\",\"index\":0,\"logprobs\":null,\"finish_reason\":"
                + (finishReason == null ? "null" : "\"" + finishReason + "\"") + "}]}";
    }

    private boolean authorized(HttpExchange x) throws IOException {
        if (apiKey == null || ("Bearer " + apiKey).equals(x.getRequestHeaders().getFirst("Authorization"))) {
            return true;
        }
        reply(x, 401, "application/json", """
                {"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null,
                 "code":"invalid_api_key"}}""");
        return false;
    }

    private static void sse(HttpExchange x, String events) throws IOException {
        reply(x, 200, "text/event-stream", events);
    }

    private static void reply(HttpExchange x, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        x.getResponseHeaders().set("Content-Type", type);
        x.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = x.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        gate.countDown();
        server.stop(0);
    }
}
