package dev.switchback.client;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.function.Consumer;

/** The client over HTTP: OpenAI-compatible {@code /v1/completions} and {@code /v1/models}, streams as SSE. */
final class HttpTransport implements SwitchbackClient {
    private final ClientSettings settings;
    private final HttpClient http;

    HttpTransport(ClientSettings settings) {
        this.settings = settings;
        // HTTP/1.1: over plain http the JDK would otherwise try an h2c upgrade the server does not speak.
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(settings.connectTimeout())
                .build();
    }

    @Override
    public Completion complete(CompletionRequest request) {
        HttpResponse<String> response = send(post(request, false), HttpResponse.BodyHandlers.ofString());
        checkStatus(response.statusCode(), response.body());
        return OpenAiJson.completion(OpenAiJson.parse(response.body()));
    }

    @Override
    public Completion stream(CompletionRequest request, Consumer<String> pieces) {
        HttpResponse<InputStream> response = send(post(request, true), HttpResponse.BodyHandlers.ofInputStream());
        try (InputStream body = response.body()) {
            if (response.statusCode() / 100 != 2) {
                checkStatus(response.statusCode(), new String(body.readAllBytes(), StandardCharsets.UTF_8));
            }
            SseEvents events = new SseEvents(new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8)));
            CompletionChunks chunks = new CompletionChunks(pieces);
            for (String data; (data = events.next()) != null; ) {
                if (data.equals("[DONE]")) {
                    return chunks.done();
                }
                chunks.add(OpenAiJson.parse(data));
            }
            throw new SwitchbackException(0, "stream_error", "the stream ended before data: [DONE]", null);
        } catch (IOException e) {
            throw new SwitchbackException(0, "connection_error", "the stream from " + settings.base() + " broke: " + e, e);
        }
    }

    @Override
    public List<String> models() {
        HttpResponse<String> response = send(request("/v1/models").GET().build(), HttpResponse.BodyHandlers.ofString());
        checkStatus(response.statusCode(), response.body());
        return OpenAiJson.modelNames(OpenAiJson.parse(response.body()));
    }

    @Override
    public void close() {
        http.close();
    }

    private HttpRequest post(CompletionRequest r, boolean stream) {
        return request("/v1/completions")
                .header("Content-Type", "application/json")
                .header("Accept", stream ? "text/event-stream" : "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(OpenAiJson.request(r, stream)))
                .build();
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(settings.base() + path)).timeout(settings.requestTimeout());
        if (settings.apiKey() != null) {
            b.header("Authorization", "Bearer " + settings.apiKey());
        }
        return b;
    }

    private <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> body) {
        try {
            return http.send(request, body);
        } catch (HttpConnectTimeoutException e) {
            throw new SwitchbackException(0, "connection_error", "cannot connect to " + settings.base() + " within "
                    + settings.connectTimeout().toSeconds() + " s", e);
        } catch (HttpTimeoutException e) {
            throw new SwitchbackException(0, "timeout", "no answer from " + settings.base() + " within "
                    + settings.requestTimeout().toSeconds() + " s", e);
        } catch (ConnectException e) {
            throw new SwitchbackException(0, "connection_error", "cannot connect to " + settings.base()
                    + (e.getMessage() == null ? "" : " (" + e.getMessage() + ")"), e);
        } catch (IOException e) {
            throw new SwitchbackException(0, "connection_error", "request to " + settings.base() + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SwitchbackException(0, "interrupted", "interrupted waiting for " + settings.base(), e);
        }
    }

    private static void checkStatus(int status, String body) {
        if (status / 100 != 2) {
            throw OpenAiJson.error(status, body);
        }
    }
}
