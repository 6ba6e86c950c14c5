package dev.switchback.client;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.function.Consumer;

/** Assembles a streamed completion from its OpenAI chunks, handing each piece of text on as it comes. */
final class CompletionChunks {
    private final Consumer<String> pieces;
    private final StringBuilder text = new StringBuilder();
    private String id = "";
    private String model = "";
    private String finishReason;
    private Completion.Usage usage;

    CompletionChunks(Consumer<String> pieces) {
        this.pieces = pieces;
    }

    void add(JsonNode chunk) {
        if (chunk.has("error")) {
            throw OpenAiJson.error(0, chunk.toString()); // status 0: the HTTP status said 200 before this came
        }
        id = chunk.path("id").asText(id);
        model = chunk.path("model").asText(model);
        JsonNode choice = chunk.path("choices").path(0);
        String piece = choice.path("text").asText("");
        if (!piece.isEmpty()) {
            text.append(piece);
            pieces.accept(piece);
        }
        if (choice.hasNonNull("finish_reason")) {
            finishReason = choice.get("finish_reason").asText();
        }
        Completion.Usage u = OpenAiJson.usage(chunk.path("usage"));
        if (u != null) {
            usage = u;
        }
    }

    /** The completion, once the stream said it is done. */
    Completion done() {
        if (finishReason == null) {
            throw new SwitchbackException(0, "stream_error", "the stream ended without a finish reason", null);
        }
        return new Completion(id, model, text.toString(), finishReason, usage);
    }
}
