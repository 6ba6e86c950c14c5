package dev.switchback.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;

class ChatCompletionsTest extends ServerTestBase {
    @Test
    void chatRendersTheTemplateAndAnswersAsTheAssistant() throws Exception {
        HttpResponse<String> r = post("/v1/chat/completions", """
                {"model":"echo","messages":[{"role":"system","content":"S"},{"role":"user","content":"U"}],
                 "max_tokens":100,"stop":"\\n<|assistant"}""");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("<|system|>S\n<|user|>U\n<|assistant|>", service.submitted.getLast().prompt());
        // The double echoes the prompt; the stop string cuts it before the assistant prefix.
        assertEquals("""
                {"id":"chatcmpl-test1","object":"chat.completion","created":1700000000,"model":"echo",\
                "choices":[{"index":0,"message":{"role":"assistant","content":"<|system|>S\\n<|user|>U"},\
                "logprobs":null,"finish_reason":"stop"}],\
                "usage":{"prompt_tokens":35,"completion_tokens":21,"total_tokens":56}}""", r.body());
    }

    @Test
    void contentPartsAndMaxCompletionTokensAreUnderstood() throws Exception {
        HttpResponse<String> r = post("/v1/chat/completions", """
                {"model":"echo","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],
                 "max_completion_tokens":3,"max_tokens":99}""");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("<|user|>ab\n<|assistant|>", service.submitted.getLast().prompt());
        assertEquals(3, service.submitted.getLast().sampling().maxTokens());
        assertEquals("length", json(r).at("/choices/0/finish_reason").asText());
    }

    @Test
    void chatLogprobsUseTheChatShape() throws Exception {
        JsonNode body = json(post("/v1/chat/completions", """
                {"model":"echo","messages":[{"role":"user","content":"x"}],"max_tokens":2,"logprobs":true,"top_logprobs":0}"""));
        assertEquals("""
                {"content":[{"token":"<","logprob":-0.125,"bytes":[60],"top_logprobs":[]},\
                {"token":"|","logprob":-0.25,"bytes":[124],"top_logprobs":[]}]}""",
                body.at("/choices/0/logprobs").toString());
    }

    @Test
    void modelWithoutTemplateIs400NamingTheModel() throws Exception {
        HttpResponse<String> r = post("/v1/chat/completions", """
                {"model":"plain","messages":[{"role":"user","content":"x"}]}""");
        JsonNode error = assertError(r, 400, "invalid_request_error", "model");
        assertEquals("model plain has no chat template", error.get("message").asText());
        assertTrue(service.submitted.isEmpty());
    }

    @Test
    void unknownModelIs404() throws Exception {
        HttpResponse<String> r = post("/v1/chat/completions", """
                {"model":"nope","messages":[{"role":"user","content":"x"}]}""");
        assertError(r, 404, "invalid_request_error", "model");
    }

    @Test
    void malformedMessagesNameTheField() throws Exception {
        assertError(post("/v1/chat/completions", """
                {"model":"echo"}"""), 400, "invalid_request_error", "messages");
        assertError(post("/v1/chat/completions", """
                {"model":"echo","messages":[]}"""), 400, "invalid_request_error", "messages");
        assertError(post("/v1/chat/completions", """
                {"model":"echo","messages":[{"content":"x"}]}"""), 400, "invalid_request_error", "messages[0].role");
        assertError(post("/v1/chat/completions", """
                {"model":"echo","messages":[{"role":"user","content":"x"},{"role":"user","content":5}]}"""),
                400, "invalid_request_error", "messages[1].content");
        assertError(post("/v1/chat/completions", """
                {"model":"echo","messages":[{"role":"user","content":[{"type":"image_url"}]}]}"""),
                400, "invalid_request_error", "messages[0].content");
        assertError(post("/v1/chat/completions", """
                {"model":"echo","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function"}]}"""),
                400, "invalid_request_error", "tools");
    }
}
