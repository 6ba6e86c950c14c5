package dev.switchback.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.switchback.server.generation.GenerationListener.Usage;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** The two OpenAI response shapes, text completions and chat completions: where they differ, and the envelope they share. */
enum ResponseFormat {
    TEXT_COMPLETION("text_completion", "text_completion"),
    CHAT_COMPLETION("chat.completion", "chat.completion.chunk");

    private final String object;
    private final String chunkObject;

    ResponseFormat(String object, String chunkObject) {
        this.object = object;
        this.chunkObject = chunkObject;
    }

    /** The response id for the first choice's handle id ({@code cmpl-…} becomes {@code chatcmpl-…} for chat). */
    String responseId(String handleId) {
        return this == CHAT_COMPLETION && handleId.startsWith("cmpl-") ? "chat" + handleId : handleId;
    }

    /** A whole response: {@code {id, object, created, model, choices, usage}}. */
    ObjectNode response(String id, long created, String model, List<ObjectNode> choices, Usage usage) {
        ObjectNode body = envelope(id, object, created, model, choices);
        body.set("usage", usage(usage));
        return body;
    }

    /** One streamed chunk; {@code usage} is written only when the client asked for usage (null until the last chunk). */
    ObjectNode chunk(String id, long created, String model, List<ObjectNode> choices, boolean withUsage, Usage usage) {
        ObjectNode body = envelope(id, chunkObject, created, model, choices);
        if (withUsage) {
            body.set("usage", usage == null ? NullNode.instance : usage(usage));
        }
        return body;
    }

    /** A choice of a whole response. */
    ObjectNode choice(int index, String text, Logprobs logprobs, String finishReason) {
        ObjectNode c = Json.object().put("index", index);
        if (this == TEXT_COMPLETION) {
            c.put("text", text);
        } else {
            c.putObject("message").put("role", "assistant").put("content", text);
        }
        c.set("logprobs", logprobs == null ? NullNode.instance : logprobs.toJson());
        return c.put("finish_reason", finishReason);
    }

    /** A streamed piece of a choice; {@code finishReason} is null until its last piece. */
    ObjectNode chunkChoice(int index, String text, Logprobs logprobs, String finishReason) {
        ObjectNode c = Json.object().put("index", index);
        if (this == TEXT_COMPLETION) {
            c.put("text", text);
        } else {
            ObjectNode delta = c.putObject("delta");
            if (!text.isEmpty()) {
                delta.put("content", text);
            }
        }
        c.set("logprobs", logprobs == null ? NullNode.instance : logprobs.toJson());
        return c.put("finish_reason", finishReason);
    }

    /** The piece that opens a streamed chat choice by naming the speaker; null for text completions. */
    ObjectNode openingChunkChoice(int index) {
        if (this == TEXT_COMPLETION) {
            return null;
        }
        ObjectNode c = Json.object().put("index", index);
        c.putObject("delta").put("role", "assistant").put("content", "");
        c.set("logprobs", NullNode.instance);
        return c.putNull("finish_reason");
    }

    Logprobs newLogprobs() {
        return this == TEXT_COMPLETION ? new LegacyLogprobs() : new ChatLogprobs();
    }

    private static ObjectNode envelope(String id, String object, long created, String model, List<ObjectNode> choices) {
        ObjectNode body = Json.object().put("id", id).put("object", object).put("created", created).put("model", model);
        body.putArray("choices").addAll(choices);
        return body;
    }

    private static ObjectNode usage(Usage u) {
        return Json.object()
                .put("prompt_tokens", u.promptTokens())
                .put("completion_tokens", u.completionTokens())
                .put("total_tokens", u.totalTokens());
    }

    /** The log-probabilities of a run of tokens, in the shape of one response format. */
    interface Logprobs {
        /** @param textOffset where the token's text starts in the choice's text, in code points */
        void add(String tokenText, float logprob, int textOffset);

        JsonNode toJson();
    }

    /** OpenAI's legacy completions shape; only the chosen token is reported, so {@code top_logprobs} is null. */
    private static final class LegacyLogprobs implements Logprobs {
        private final ArrayNode tokens = Json.MAPPER.createArrayNode();
        private final ArrayNode tokenLogprobs = Json.MAPPER.createArrayNode();
        private final ArrayNode textOffset = Json.MAPPER.createArrayNode();

        @Override
        public void add(String tokenText, float logprob, int offset) {
            tokens.add(tokenText);
            tokenLogprobs.add(logprob);
            textOffset.add(offset);
        }

        @Override
        public JsonNode toJson() {
            ObjectNode o = Json.object();
            o.set("tokens", tokens);
            o.set("token_logprobs", tokenLogprobs);
            o.putNull("top_logprobs");
            o.set("text_offset", textOffset);
            return o;
        }
    }

    /** OpenAI's chat shape; only the chosen token is reported, so each {@code top_logprobs} is empty. */
    private static final class ChatLogprobs implements Logprobs {
        private final ArrayNode content = Json.MAPPER.createArrayNode();

        @Override
        public void add(String tokenText, float logprob, int offset) {
            ObjectNode t = content.addObject().put("token", tokenText).put("logprob", logprob);
            ArrayNode bytes = t.putArray("bytes");
            for (byte b : tokenText.getBytes(StandardCharsets.UTF_8)) {
                bytes.add(b & 0xff);
            }
            t.putArray("top_logprobs");
        }

        @Override
        public JsonNode toJson() {
            ObjectNode o = Json.object();
            o.set("content", content);
            return o;
        }
    }
}
