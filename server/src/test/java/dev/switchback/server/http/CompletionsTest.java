package dev.switchback.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.switchback.server.generation.GenerationRequest;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.Test;

class CompletionsTest extends ServerTestBase {
    @Test
    void completionHasOpenAiShapeAndUsage() throws Exception {
        HttpResponse<String> r = post("/v1/completions", """
                {"model":"echo","prompt":"Hello","max_tokens":3,"temperature":0}""");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("application/json", r.headers().firstValue("content-type").orElseThrow());
        assertEquals("""
                {"id":"cmpl-test1","object":"text_completion","created":1700000000,"model":"echo",\
                "choices":[{"index":0,"text":"Hel","logprobs":null,"finish_reason":"length"}],\
                "usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}""", r.body());
    }

    @Test
    void runningOutOfTextOrHittingAStopStringIsStop() throws Exception {
        JsonNode whole = json(post("/v1/completions", """
                {"model":"echo","prompt":["Hi!"],"max_tokens":10}"""));
        assertEquals("Hi!", whole.at("/choices/0/text").asText());
        assertEquals("stop", whole.at("/choices/0/finish_reason").asText());

        JsonNode stopped = json(post("/v1/completions", """
                {"model":"echo","prompt":"one. two. three","stop":[". t", "zzz"],"max_tokens":100}"""));
        assertEquals("one", stopped.at("/choices/0/text").asText());
        assertEquals("stop", stopped.at("/choices/0/finish_reason").asText());
        assertEquals(List.of(". t", "zzz"), service.submitted.getLast().sampling().stop());

        JsonNode single = json(post("/v1/completions", """
                {"model":"echo","prompt":"a-b","stop":"-"}"""));
        assertEquals("a", single.at("/choices/0/text").asText());
    }

    @Test
    void samplingFieldsReachTheService() throws Exception {
        HttpResponse<String> r = post("/v1/completions", """
                {"model":"echo","prompt":"x","max_tokens":7,"temperature":0.5,"top_p":0.9,"top_k":40,
                 "repetition_penalty":1.1,"seed":42,"user":"someone","some_future_field":{"a":1}}""");
        assertEquals(200, r.statusCode(), r.body());
        GenerationRequest req = service.submitted.getLast();
        assertEquals("echo", req.model());
        assertEquals("x", req.prompt());
        assertEquals(7, req.sampling().maxTokens());
        assertEquals(0.5, req.sampling().temperature());
        assertEquals(0.9, req.sampling().topP());
        assertEquals(40, req.sampling().topK());
        assertEquals(1.1, req.sampling().repetitionPenalty());
        assertEquals(42L, req.sampling().seed());
        assertEquals(false, req.logprobs());
        assertEquals(options().requestTimeout(), req.timeout());
        assertFalse(req.maxTokensDefaulted(), "the client's max_tokens is its own");
    }

    @Test
    void defaultsAreOpenAisAndTheServersMaxTokens() throws Exception {
        post("/v1/completions", """
                {"model":"echo","prompt":"x"}""");
        GenerationRequest req = service.submitted.getLast();
        assertEquals(1.0, req.sampling().temperature());
        assertEquals(1.0, req.sampling().topP());
        assertEquals(0, req.sampling().topK());
        assertEquals(null, req.sampling().seed());
        assertEquals(options().defaultMaxTokens(), req.sampling().maxTokens());
        assertTrue(req.maxTokensDefaulted(), "the scheduler may lower a default to the room the context leaves");
    }

    @Test
    void nChoicesAreSeparateSubmissionsWithConsecutiveSeedsAndSummedUsage() throws Exception {
        HttpResponse<String> r = post("/v1/completions", """
                {"model":"echo","prompt":"abcd","max_tokens":2,"n":2,"seed":7}""");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode body = json(r);
        assertEquals(2, body.get("choices").size());
        for (int i = 0; i < 2; i++) {
            assertEquals(i, body.at("/choices/" + i + "/index").asInt());
            assertEquals("ab", body.at("/choices/" + i + "/text").asText());
        }
        assertEquals(8, body.at("/usage/prompt_tokens").asInt());
        assertEquals(4, body.at("/usage/completion_tokens").asInt());
        assertEquals(12, body.at("/usage/total_tokens").asInt());
        assertEquals(List.of(7L, 8L), service.submitted.stream().map(q -> q.sampling().seed()).toList());
        assertEquals("cmpl-test1", body.get("id").asText());
    }

    @Test
    void nWithoutSeedLeavesEachChoiceUnseeded() throws Exception {
        assertEquals(200, post("/v1/completions", """
                {"model":"echo","prompt":"ab","n":3}""").statusCode());
        assertEquals(3, service.submitted.size());
        assertTrue(service.submitted.stream().allMatch(q -> q.sampling().seed() == null));
    }

    @Test
    void logprobsUseTheLegacyShape() throws Exception {
        HttpResponse<String> r = post("/v1/completions", """
                {"model":"echo","prompt":"añb","max_tokens":3,"logprobs":1}""");
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(service.submitted.getLast().logprobs());
        assertEquals("""
                {"tokens":["a","ñ","b"],"token_logprobs":[-0.125,-0.25,-0.375],"top_logprobs":null,"text_offset":[0,1,2]}""",
                json(r).at("/choices/0/logprobs").toString());
    }

    @Test
    void textHeldBackUntilTheEndIsPartOfTheText() throws Exception {
        service.holdBackLastText = true;
        JsonNode body = json(post("/v1/completions", """
                {"model":"echo","prompt":"xyz"}"""));
        assertEquals("xyz", body.at("/choices/0/text").asText());
    }
}
