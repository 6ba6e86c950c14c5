package dev.switchback.cli.bench.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class SseRecorderTest {
    private static final String TOKEN = "data: {\"choices\":[{\"index\":0,\"text\":\"%s\",\"logprobs\":{\"tokens\":[\"%s\"]},\"finish_reason\":null}]}\n\n";
    private static final String FINISH = "data: {\"choices\":[{\"index\":0,\"text\":\"\",\"logprobs\":null,\"finish_reason\":\"length\"}]}\n\n";
    private static final String USAGE = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10}}\n\n";

    /** Events split across deliveries at every possible point still come out whole, stamped when their last byte came. */
    @Test
    void eventsAreWholeWhereverTheBytesAreSplit() {
        String stream = TOKEN.formatted(" In", " In") + TOKEN.formatted("", "\\u00e2") + TOKEN.formatted(" the", " the") + FINISH + USAGE
                + "data: [DONE]\n\n";
        byte[] bytes = stream.getBytes(StandardCharsets.UTF_8);
        for (int cut = 1; cut < bytes.length; cut++) {
            SseRecorder recorder = new SseRecorder(200);
            recorder.onNext(List.of(ByteBuffer.wrap(bytes, 0, cut)));
            long between = System.nanoTime();
            recorder.onNext(List.of(ByteBuffer.wrap(bytes, cut, bytes.length - cut)));
            recorder.onComplete();
            SseRecorder.Stream s = recorder.getBody().toCompletableFuture().join();
            assertEquals(6, s.data().size(), "cut at " + cut);
            assertEquals("[DONE]", s.data().getLast());
            int wholeInFirst = stream.substring(0, new String(bytes, 0, cut, StandardCharsets.UTF_8).length()).split("\n\n", -1).length - 1;
            for (int e = 0; e < 6; e++) {
                assertEquals(e < wholeInFirst, s.arrivalNanos()[e] < between, "event " + e + " cut at " + cut);
            }
            RequestResult r = RequestResult.of(s.arrivalNanos()[0] - 1000, s);
            assertTrue(r.ok(), r.errorMessage());
            assertEquals(3, r.outputTokens(), "the token with no text yet counts too");
            assertEquals(3, r.usageCompletionTokens());
            assertEquals(7, r.usagePromptTokens());
            assertEquals(1000, r.ttftNanos());
        }
    }

    @Test
    void crlfLineEndsAndMultiLineDataAreRead() {
        SseRecorder recorder = new SseRecorder(200);
        recorder.onNext(List.of(ByteBuffer.wrap(": comment\r\ndata: a\r\ndata: b\r\n\r\nevent: x\r\ndata: [DONE]\r\n\r\n".getBytes(StandardCharsets.UTF_8))));
        recorder.onComplete();
        assertEquals(List.of("a\nb", "[DONE]"), recorder.getBody().toCompletableFuture().join().data());
    }

    @Test
    void aRefusalIsAnHttpErrorWithTheServersMessage() {
        SseRecorder recorder = new SseRecorder(429);
        recorder.onNext(List.of(ByteBuffer.wrap("{\"error\":{\"message\":\"too many waiting\",\"type\":\"rate_limit_exceeded\"}}"
                .getBytes(StandardCharsets.UTF_8))));
        recorder.onComplete();
        RequestResult r = RequestResult.of(0, recorder.getBody().toCompletableFuture().join());
        assertFalse(r.ok());
        assertEquals("http_429", r.errorKind());
        assertEquals("rate_limit_exceeded: too many waiting", r.errorMessage());
    }

    @Test
    void aStreamCutShortOrCarryingAnErrorFails() {
        RequestResult cut = RequestResult.of(0, new SseRecorder.Stream(200, List.of(TOKEN.formatted("a", "a").substring(6).strip()),
                new long[] {5}, 9, null));
        assertEquals("stream_error", cut.errorKind());
        assertTrue(cut.errorMessage().contains("[DONE]"));
        RequestResult failed = RequestResult.of(0, new SseRecorder.Stream(200,
                List.of("{\"error\":{\"message\":\"engine failed\",\"type\":\"server_error\"}}", "[DONE]"), new long[] {5, 6}, 9, null));
        assertEquals("stream_error", failed.errorKind());
        assertEquals("server_error: engine failed", failed.errorMessage());
    }

    @Test
    void tpotIsTheMeanGapAfterTheFirstToken() {
        RequestResult r = new RequestResult(null, null, 100, 1_100, new long[] {300, 500, 700, 1_000}, 5, 4);
        assertEquals(200, r.ttftNanos());
        assertEquals(1_000, r.e2eNanos());
        assertEquals((1_000 - 200) / 3, r.tpotNanos());
        assertArrayEquals(new long[] {300, 500, 700, 1_000}, r.tokenArrivalNanos());
        assertEquals(-1, new RequestResult(null, null, 0, 10, new long[] {5}, 1, 1).tpotNanos());
    }
}
