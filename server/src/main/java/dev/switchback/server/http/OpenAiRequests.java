package dev.switchback.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import dev.switchback.kernels.sampling.SamplingParams;
import dev.switchback.server.generation.GenerationRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Reads OpenAI completion and chat request bodies into checked values; every refusal names the field. */
final class OpenAiRequests {
    /** Most choices one request may ask for: each is a separate generation. */
    static final int MAX_CHOICES = 16;
    /** OpenAI's own limit on the legacy {@code logprobs}; only the chosen token's log-probability is reported. */
    static final int MAX_LEGACY_LOGPROBS = 5;
    private static final double DEFAULT_TEMPERATURE = 1.0;

    private OpenAiRequests() {}

    /**
     * What completions and chat share.
     *
     * @param logprobs whether each token's log-probability is reported
     * @param maxTokensDefaulted the body left max_tokens (or max_completion_tokens) out
     */
    record Params(String model, SamplingParams sampling, int n, boolean stream, boolean includeUsage, boolean logprobs,
            boolean maxTokensDefaulted) {
        /** One request per choice; with a seed, choice i draws with seed + i so that the choices differ. */
        List<GenerationRequest> requests(String prompt, Duration timeout) {
            List<GenerationRequest> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                SamplingParams s = sampling.seed() == null ? sampling : sampling.withSeed(sampling.seed() + i);
                out.add(new GenerationRequest(model, prompt, s, logprobs, timeout, maxTokensDefaulted));
            }
            return out;
        }
    }

    /** A checked {@code POST /v1/completions} body. */
    record Completion(Params params, String prompt) {}

    /** A checked {@code POST /v1/chat/completions} body. */
    record Chat(Params params, List<ChatTemplate.Message> messages) {}

    static Completion completion(JsonNode body, int defaultMaxTokens) {
        requireObject(body);
        refuseIf(JsonFields.bool(body, "echo") == Boolean.TRUE, "echo", "echo is not supported");
        String suffix = JsonFields.string(body, "suffix");
        refuseIf(suffix != null && !suffix.isEmpty(), "suffix", "suffix is not supported");
        Integer bestOf = JsonFields.integer(body, "best_of");
        refuseIf(bestOf != null && bestOf > 1, "best_of", "best_of is not supported");
        Integer logprobs = JsonFields.integer(body, "logprobs");
        if (logprobs != null && (logprobs < 0 || logprobs > MAX_LEGACY_LOGPROBS)) {
            throw JsonFields.invalid("logprobs", "logprobs must be between 0 and " + MAX_LEGACY_LOGPROBS + ", got " + logprobs);
        }
        Params params = params(body, "max_tokens", JsonFields.integer(body, "max_tokens"), defaultMaxTokens, logprobs != null);
        return new Completion(params, prompt(body));
    }

    static Chat chat(JsonNode body, int defaultMaxTokens) {
        requireObject(body);
        JsonNode tools = JsonFields.present(body, "tools");
        refuseIf(tools != null && !tools.isEmpty(), "tools", "tools are not supported");
        Integer topLogprobs = JsonFields.integer(body, "top_logprobs");
        if (topLogprobs != null && (topLogprobs < 0 || topLogprobs > 20)) {
            throw JsonFields.invalid("top_logprobs", "top_logprobs must be between 0 and 20, got " + topLogprobs);
        }
        // The newer name wins, as in OpenAI's API.
        String maxParam = JsonFields.present(body, "max_completion_tokens") != null ? "max_completion_tokens" : "max_tokens";
        boolean logprobs = JsonFields.bool(body, "logprobs") == Boolean.TRUE;
        Params params = params(body, maxParam, JsonFields.integer(body, maxParam), defaultMaxTokens, logprobs);
        return new Chat(params, messages(body));
    }

    private static Params params(JsonNode body, String maxParam, Integer maxTokens, int defaultMaxTokens, boolean logprobs) {
        String model = JsonFields.string(body, "model");
        if (model == null || model.isBlank()) {
            throw JsonFields.invalid("model", "model is required");
        }
        JsonNode logitBias = JsonFields.present(body, "logit_bias");
        refuseIf(logitBias != null && !logitBias.isEmpty(), "logit_bias", "logit_bias is not supported");
        for (String penalty : List.of("presence_penalty", "frequency_penalty")) {
            Double v = JsonFields.number(body, penalty);
            refuseIf(v != null && v != 0, penalty, penalty + " is not supported; use repetition_penalty");
        }
        Integer n = JsonFields.integer(body, "n");
        if (n != null && (n < 1 || n > MAX_CHOICES)) {
            throw JsonFields.invalid("n", "n must be between 1 and " + MAX_CHOICES + ", got " + n);
        }
        Double temperature = JsonFields.number(body, "temperature");
        Double topP = JsonFields.number(body, "top_p");
        Integer topK = JsonFields.integer(body, "top_k");
        Double repetitionPenalty = JsonFields.number(body, "repetition_penalty");
        Long seed = JsonFields.longInteger(body, "seed");
        List<String> stop = stop(body);
        boolean stream = JsonFields.bool(body, "stream") == Boolean.TRUE;
        boolean includeUsage = false;
        JsonNode streamOptions = JsonFields.present(body, "stream_options");
        if (streamOptions != null) {
            if (!streamOptions.isObject()) {
                throw JsonFields.wrongType("stream_options", "an object", streamOptions);
            }
            includeUsage = JsonFields.bool(streamOptions, "include_usage") == Boolean.TRUE;
        }
        SamplingParams sampling;
        try {
            sampling = new SamplingParams(
                    temperature == null ? DEFAULT_TEMPERATURE : temperature,
                    topK == null ? 0 : topK,
                    topP == null ? 1 : topP,
                    repetitionPenalty == null ? 1 : repetitionPenalty,
                    seed,
                    maxTokens == null ? defaultMaxTokens : maxTokens,
                    stop);
        } catch (IllegalArgumentException e) {
            throw samplingError(e, maxParam);
        }
        return new Params(model, sampling, n == null ? 1 : n, stream, includeUsage, logprobs, maxTokens == null);
    }

    private static String prompt(JsonNode body) {
        JsonNode p = JsonFields.present(body, "prompt");
        if (p == null) {
            throw JsonFields.invalid("prompt", "prompt is required");
        }
        if (p.isTextual()) {
            return p.textValue();
        }
        if (p.isArray() && p.size() == 1 && p.get(0).isTextual()) {
            return p.get(0).textValue();
        }
        throw JsonFields.invalid("prompt", "prompt must be a string or an array of one string");
    }

    private static List<String> stop(JsonNode body) {
        JsonNode s = JsonFields.present(body, "stop");
        if (s == null) {
            return List.of();
        }
        if (s.isTextual()) {
            return List.of(s.textValue());
        }
        if (!s.isArray()) {
            throw JsonFields.wrongType("stop", "a string or an array of strings", s);
        }
        List<String> out = new ArrayList<>(s.size());
        for (int i = 0; i < s.size(); i++) {
            if (!s.get(i).isTextual()) {
                throw JsonFields.wrongType("stop", "a string or an array of strings", s);
            }
            out.add(s.get(i).textValue());
        }
        return out;
    }

    private static List<ChatTemplate.Message> messages(JsonNode body) {
        JsonNode m = JsonFields.present(body, "messages");
        if (m == null) {
            throw JsonFields.invalid("messages", "messages is required");
        }
        if (!m.isArray() || m.isEmpty()) {
            throw JsonFields.invalid("messages", "messages must be a non-empty array");
        }
        List<ChatTemplate.Message> out = new ArrayList<>(m.size());
        for (int i = 0; i < m.size(); i++) {
            String at = "messages[" + i + "]";
            JsonNode message = m.get(i);
            if (!message.isObject()) {
                throw JsonFields.wrongType(at, "an object", message);
            }
            String role = JsonFields.string(message, "role");
            if (role == null || role.isEmpty()) {
                throw JsonFields.invalid(at + ".role", at + ".role is required");
            }
            out.add(new ChatTemplate.Message(role, content(message, at + ".content")));
        }
        return out;
    }

    // A string, or OpenAI's array of parts of which we take the text ones; null (assistant turns) is empty.
    private static String content(JsonNode message, String param) {
        JsonNode c = JsonFields.present(message, "content");
        if (c == null) {
            return "";
        }
        if (c.isTextual()) {
            return c.textValue();
        }
        if (!c.isArray()) {
            throw JsonFields.wrongType(param, "a string or an array of text parts", c);
        }
        StringBuilder text = new StringBuilder();
        for (JsonNode part : c) {
            if (!part.isObject() || !"text".equals(part.path("type").asText()) || !part.path("text").isTextual()) {
                throw JsonFields.invalid(param, param + " may only hold text parts ({\"type\":\"text\",\"text\":...})");
            }
            text.append(part.get("text").textValue());
        }
        return text.toString();
    }

    private static void requireObject(JsonNode body) {
        if (!body.isObject()) {
            throw JsonFields.invalid(null, "request body must be a JSON object");
        }
    }

    private static void refuseIf(boolean refused, String param, String message) {
        if (refused) {
            throw JsonFields.invalid(param, message);
        }
    }

    // SamplingParams names its fields in Java; the API user knows them by their OpenAI names.
    private static RequestException samplingError(IllegalArgumentException e, String maxParam) {
        String message = e.getMessage() == null ? "invalid sampling settings" : e.getMessage();
        String[][] names = {
            {"temperature", "temperature"}, {"topK", "top_k"}, {"topP", "top_p"},
            {"repetitionPenalty", "repetition_penalty"}, {"maxTokens", maxParam}, {"stop", "stop"},
        };
        for (String[] name : names) {
            if (message.startsWith(name[0])) {
                return JsonFields.invalid(name[1], name[1] + message.substring(name[0].length()));
            }
        }
        return JsonFields.invalid(null, message);
    }
}
