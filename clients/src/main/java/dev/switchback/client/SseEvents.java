package dev.switchback.client;

import java.io.BufferedReader;
import java.io.IOException;

/**
 * Reads Server-Sent Events (the WHATWG event-stream format) and yields each event's data: {@code data:} lines
 * joined by newlines, dispatched at a blank line. Comments and the other fields (event, id, retry) carry nothing
 * a completion needs, so they are skipped. Line ends may be LF, CR or CRLF.
 */
final class SseEvents {
    private final BufferedReader lines;

    SseEvents(BufferedReader lines) {
        this.lines = lines;
    }

    /** The next event's data, or null at the end of the stream. */
    String next() throws IOException {
        StringBuilder data = null;
        for (String line; (line = lines.readLine()) != null; ) {
            if (line.isEmpty()) {
                if (data != null) {
                    return data.toString();
                }
                continue; // a blank line after an event with no data dispatches nothing
            }
            if (!line.startsWith("data") || line.length() > 4 && line.charAt(4) != ':') {
                continue;
            }
            String value = line.length() <= 5 ? "" : line.substring(line.charAt(5) == ' ' ? 6 : 5);
            if (data == null) {
                data = new StringBuilder(value);
            } else {
                data.append('\n').append(value);
            }
        }
        // The format drops an event cut off before its blank line; servers that close right after the last
        // event without one exist, and the caller still checks that the stream ended with [DONE].
        return data == null ? null : data.toString();
    }
}
