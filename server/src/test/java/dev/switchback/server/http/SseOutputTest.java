package dev.switchback.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import dev.switchback.server.generation.GenerationListener.TokenPiece;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpContent;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Token chunks spliced into a pre-rendered template are byte for byte the chunks the JSON tree renders. */
class SseOutputTest {
    private static final List<String> TEXTS = List.of("In", " the", "\"quoted\"", "back\\slash", "line\nbreak", "tab\t",
            "\u0001\u001f control", "caf\u00e9", "\u4e2d\u6587", "\ud83d\ude00 emoji", "</script>", "\u2028");

    @Test
    void splicedTokenChunksEqualRenderedChunks() {
        for (ResponseFormat format : ResponseFormat.values()) {
            for (int choices : new int[] {1, 3}) {
                EmbeddedChannel channel = new EmbeddedChannel(new ChannelInboundHandlerAdapter());
                ChannelHandlerContext ctx = channel.pipeline().firstContext();
                SseOutput out = new SseOutput(ctx, null, format, "tiny", 1_700_000_000L, choices, false, false, 1 << 20);
                out.begin("cmpl-42");
                List<String> events = drain(channel);
                out.token(0, new TokenPiece(7, "unflushed", -0.5f));
                assertEquals(List.of(), drain(channel), "a token waits for the call's flush");
                out.flush();
                assertEquals(1, drain(channel).size());
                for (String text : TEXTS) {
                    for (int c = 0; c < choices; c++) {
                        out.token(c, new TokenPiece(7, text, -0.5f));
                        out.flush();
                        List<String> got = drain(channel);
                        assertEquals(1, got.size(), "one event per token");
                        String expected = "data: " + Json.MAPPER.valueToTree(
                                format.chunk(format.responseId("cmpl-42"), 1_700_000_000L, "tiny",
                                        List.of(format.chunkChoice(c, text, null, null)), false, null)).toString() + "\n\n";
                        assertEquals(expected, got.getFirst(), format + " choice " + c + " text " + text);
                        JsonNode parsed = parse(got.getFirst());
                        String field = format == ResponseFormat.TEXT_COMPLETION
                                ? parsed.path("choices").path(0).path("text").asText()
                                : parsed.path("choices").path(0).path("delta").path("content").asText();
                        assertEquals(text, field, "the text survives the round trip");
                    }
                }
                channel.finishAndReleaseAll();
            }
        }
    }

    private static JsonNode parse(String event) {
        try {
            return Json.MAPPER.readTree(event.substring("data: ".length()).strip());
        } catch (Exception e) {
            throw new AssertionError("not JSON: " + event, e);
        }
    }

    private static List<String> drain(EmbeddedChannel channel) {
        List<String> out = new ArrayList<>();
        for (Object o; (o = channel.readOutbound()) != null; ) {
            if (o instanceof HttpContent c) {
                ByteBuf b = c.content();
                out.add(b.toString(StandardCharsets.UTF_8));
            }
            io.netty.util.ReferenceCountUtil.release(o);
        }
        return out;
    }
}
