package dev.switchback.client;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.StringReader;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SseEventsTest {
    @Test
    void yieldsTheDataOfEachEvent() throws IOException {
        assertEquals(List.of("{\"a\":1}", "[DONE]"), events("data: {\"a\":1}\n\ndata: [DONE]\n\n"));
    }

    @Test
    void acceptsEveryLineEnd() throws IOException {
        assertEquals(List.of("one", "two", "three"), events("data: one\r\n\r\ndata: two\r\rdata: three\n\n"));
    }

    @Test
    void skipsCommentsOtherFieldsAndEmptyEvents() throws IOException {
        assertEquals(List.of("x"), events(": keep-alive\n\nevent: completion\nid: 7\nretry: 1000\ndata: x\n\n\n\nid: 8\n\n"));
    }

    @Test
    void joinsDataLinesOfOneEventWithNewlines() throws IOException {
        assertEquals(List.of("first\nsecond"), events("data: first\ndata: second\n\n"));
    }

    @Test
    void dropsOnlyOneSpaceAfterTheColon() throws IOException {
        assertEquals(List.of("tight", " spaced", ""), events("data:tight\n\ndata:  spaced\n\ndata\n\n"));
    }

    @Test
    void ignoresFieldsThatOnlyStartLikeData() throws IOException {
        assertEquals(List.of("y"), events("database: x\ndata: y\n\n"));
    }

    @Test
    void anEventCutOffAtTheEndIsStillReturned() throws IOException {
        assertEquals(List.of("a", "b"), events("data: a\n\ndata: b"));
    }

    private static List<String> events(String stream) throws IOException {
        SseEvents events = new SseEvents(new BufferedReader(new StringReader(stream)));
        List<String> out = new ArrayList<>();
        for (String data; (data = events.next()) != null; ) {
            out.add(data);
        }
        return out;
    }
}
