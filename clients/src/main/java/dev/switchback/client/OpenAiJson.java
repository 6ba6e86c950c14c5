package dev.switchback.client;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;

/** OpenAI completions JSON: request bodies, answers, stream chunks, model lists and error bodies. */
final class OpenAiJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private OpenAiJson() {}

    static String request(CompletionRequest r, boolean stream) {
        ObjectNode body = JSON.createObjectNode().put("model", r.model()).put("prompt", r.prompt());
        if (r.maxTokens() > 0) {
            body.put("max_tokens", r.maxTokens());
        }
        if (r.temperature() != null) {
            body.put("temperature", r.temperature());
        }
        if (!r.stop().isEmpty()) {
            r.stop().forEach(body.putArray("stop")::add);
        }
        if (stream) {
            body.put("stream", true);
            body.putObject("stream_options").put("include_usage", true);
        }
        return body.toString();
    }

    static JsonNode parse(String text) {
        try {
            return JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new SwitchbackException(0, "bad_response", "the server's answer is not JSON: " + snippet(text), e);
        }
    }

    static Completion completion(JsonNode body) {
        JsonNode choice = body.path("choices").path(0);
        return new Completion(body.path("id").asText(""), body.path("model").asText(""), choice.path("text").asText(""),
                choice.path("finish_reason").asText(""), usage(body.path("usage")));
    }

    /** Null when the node carries no usage (every stream chunk but the last). */
    static Completion.Usage usage(JsonNode usage) {
        if (!usage.isObject()) {
            return null;
        }
        return new Completion.Usage(usage.path("prompt_tokens").asInt(), usage.path("completion_tokens").asInt(),
                usage.path("total_tokens").asInt());
    }

    static List<String> modelNames(JsonNode body) {
        List<String> names = new ArrayList<>();
        body.path("data").forEach(m -> names.add(m.path("id").asText()));
        return names;
    }

    /** The error an OpenAI error body describes; bodies of another shape are quoted as they are. */
    static SwitchbackException error(int status, String body) {
        JsonNode error;
        try {
            error = JSON.readTree(body).path("error");
        } catch (JsonProcessingException e) {
            error = null;
        }
        if (error == null || !error.isObject()) {
            return new SwitchbackException(status, "http_error", body.isBlank() ? "no error message" : snippet(body), null);
        }
        return new SwitchbackException(status, error.path("type").asText("error"), error.path("message").asText(""), null);
    }

    private static String snippet(String text) {
        String line = text.strip().replaceAll("\\s+", " ");
        return line.length() <= 200 ? line : line.substring(0, 200) + "...";
    }
}
