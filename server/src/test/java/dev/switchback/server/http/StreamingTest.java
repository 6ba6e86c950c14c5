package dev.switchback.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.switchback.server.generation.GenerationException.Kind;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class StreamingTest extends ServerTestBase {
    private static final String HEAD = "data: {\"id\":\"cmpl-test1\",\"object\":\"text_completion\",\"created\":1700000000,\"model\":\"echo\",";
    private static final String CHAT_HEAD = "data: {\"id\":\"chatcmpl-test1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"echo\",";

    @Test
    void completionStreamIsExactlyOpenAisServerSentEvents() throws Exception {
        HttpResponse<String> r = post("/v1/completions", """
                {"model":"echo","prompt":"Hi!","max_tokens":2,"stream":true}""");
        assertEquals(200, r.statusCode());
        assertEquals("text/event-stream", r.headers().firstValue("content-type").orElseThrow());
        assertEquals("no-cache", r.headers().firstValue("cache-control").orElseThrow());
        assertEquals(HEAD + "\"choices\":[{\"index\":0,\"text\":\"H\",\"logprobs\":null,\"finish_reason\":null}]}\n\n"
                + HEAD + "\"choices\":[{\"index\":0,\"text\":\"i\",\"logprobs\":null,\"finish_reason\":null}]}\n\n"
                + HEAD + "\"choices\":[{\"index\":0,\"text\":\"\",\"logprobs\":null,\"finish_reason\":\"length\"}]}\n\n"
                + "data: [DONE]\n\n", r.body());
    }

    @Test
    void includeUsageAddsNullUsageToEveryChunkAndAFinalUsageChunk() throws Exception {
        HttpResponse<String> r = post("/v1/completions", """
                {"model":"echo","prompt":"ab","stream":true,"stream_options":{"include_usage":true}}""");
        assertEquals(HEAD + "\"choices\":[{\"index\":0,\"text\":\"a\",\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
                + HEAD + "\"choices\":[{\"index\":0,\"text\":\"b\",\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n"
                + HEAD + "\"choices\":[{\"index\":0,\"text\":\"\",\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n"
                + HEAD + "\"choices\":[],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":2,\"total_tokens\":4}}\n\n"
                + "data: [DONE]\n\n", r.body());
    }

    @Test
    void chatStreamOpensWithTheRoleThenContentDeltas() throws Exception {
        HttpResponse<String> r = post("/v1/chat/completions", """
                {"model":"echo","messages":[{"role":"user","content":"x"}],"max_tokens":2,"stream":true}""");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(CHAT_HEAD + "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
                + CHAT_HEAD + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"<\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
                + CHAT_HEAD + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"|\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
                + CHAT_HEAD + "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"length\"}]}\n\n"
                + "data: [DONE]\n\n", r.body());
    }

    @Test
    void heldBackTextArrivesWithTheFinishReason() throws Exception {
        service.holdBackLastText = true;
        HttpResponse<String> r = post("/v1/completions", """
                {"model":"echo","prompt":"ab","stream":true}""");
        // The empty piece of "b" is skipped; "b" comes with the last chunk.
        assertEquals(HEAD + "\"choices\":[{\"index\":0,\"text\":\"a\",\"logprobs\":null,\"finish_reason\":null}]}\n\n"
                + HEAD + "\"choices\":[{\"index\":0,\"text\":\"b\",\"logprobs\":null,\"finish_reason\":\"stop\"}]}\n\n"
                + "data: [DONE]\n\n", r.body());
    }

    @Test
    void streamedLogprobsCoverEachChunksToken() throws Exception {
        HttpResponse<String> r = post("/v1/completions", """
                {"model":"echo","prompt":"ab","stream":true,"logprobs":0}""");
        String[] events = r.body().split("\n\n");
        assertEquals(4, events.length, r.body());
        JsonNode second = MAPPER.readTree(events[1].substring("data: ".length()));
        assertEquals("""
                {"tokens":["b"],"token_logprobs":[-0.25],"top_logprobs":null,"text_offset":[1]}""",
                second.at("/choices/0/logprobs").toString());
    }

    @Test
    void nStreamedChoicesEachEndWithTheirOwnFinishReason() throws Exception {
        HttpResponse<String> r = post("/v1/completions", """
                {"model":"echo","prompt":"ab","stream":true,"n":2,"stream_options":{"include_usage":true}}""");
        String[] events = r.body().split("\n\n");
        assertEquals("data: [DONE]", events[events.length - 1]);
        int finishes = 0;
        StringBuilder[] text = {new StringBuilder(), new StringBuilder()};
        for (int i = 0; i < events.length - 2; i++) {
            JsonNode chunk = MAPPER.readTree(events[i].substring("data: ".length()));
            JsonNode choice = chunk.at("/choices/0");
            text[choice.get("index").asInt()].append(choice.get("text").asText());
            if (!choice.get("finish_reason").isNull()) {
                finishes++;
            }
        }
        assertEquals(2, finishes);
        assertEquals("ab", text[0].toString());
        assertEquals("ab", text[1].toString());
        JsonNode usage = MAPPER.readTree(events[events.length - 2].substring("data: ".length())).get("usage");
        assertEquals(4, usage.get("completion_tokens").asInt());
        assertEquals(4, usage.get("prompt_tokens").asInt());
    }

    @Test
    void failureAfterTheHeadersIsAnErrorEventThenDone() throws Exception {
        service.failWith = Kind.INTERNAL;
        service.failAfterTokens = 1;
        HttpResponse<String> r = post("/v1/completions", """
                {"model":"echo","prompt":"abc","stream":true}""");
        assertEquals(200, r.statusCode());
        assertEquals(HEAD + "\"choices\":[{\"index\":0,\"text\":\"a\",\"logprobs\":null,\"finish_reason\":null}]}\n\n"
                + "data: {\"error\":{\"message\":\"test double fails with INTERNAL\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n"
                + "data: [DONE]\n\n", r.body());
    }

    @Test
    void refusalBeforeTheFirstTokenIsAPlainErrorResponse() throws Exception {
        service.refuseWith = Kind.RESOURCE_EXHAUSTED;
        HttpResponse<String> r = post("/v1/completions", """
                {"model":"echo","prompt":"abc","stream":true}""");
        assertError(r, 429, "rate_limit_error", null);
    }

    @Test
    void clientHangingUpMidStreamCancelsAtOnce() throws Exception {
        service.tokenDelay = Duration.ofMillis(20);
        try (RawHttp1 conn = new RawHttp1(port)) {
            conn.send(RawHttp1.request("POST", "/v1/completions", """
                    {"model":"echo","prompt":"%s","max_tokens":1000,"stream":true}""".formatted("z".repeat(1000))));
            conn.readUntil("\"text\":\"z\"");
            assertEquals(null, service.cancelled.peek());
        }
        long hungUp = System.nanoTime();
        assertEquals("cmpl-test1", service.awaitCancel(Duration.ofSeconds(5)));
        long millis = (System.nanoTime() - hungUp) / 1_000_000;
        assertTrue(millis < 1000, "cancel took " + millis + " ms");
        assertEquals(0, waitForIdle());
    }

    @Test
    void slowReaderIsCutOffInsteadOfBufferedWithoutBound() throws Exception {
        start(options().withMaxStreamBufferBytes(64 * 1024));
        // About 20 MB of events: more than any loopback socket buffers hold.
        String prompt = "w".repeat(150_000);
        try (RawHttp1 conn = new RawHttp1(port, 4096)) {
            conn.send(RawHttp1.request("POST", "/v1/completions", """
                    {"model":"echo","prompt":"%s","max_tokens":150000,"stream":true}""".formatted(prompt)));
            // Never read: the server's socket buffer fills, then its backlog passes the limit.
            assertNotNull(service.awaitCancel(Duration.ofSeconds(20)), "generation was not cancelled");
            assertTrue(conn.closedByServer());
        }
    }

    private int waitForIdle() throws InterruptedException {
        for (int i = 0; i < 200 && server.inFlight() > 0; i++) {
            Thread.sleep(10);
        }
        return server.inFlight();
    }
}
