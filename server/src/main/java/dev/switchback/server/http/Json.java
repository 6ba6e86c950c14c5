package dev.switchback.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufInputStream;
import io.netty.buffer.ByteBufOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;

/** JSON reading and writing for the HTTP layer, straight from and into Netty buffers. */
final class Json {
    static final ObjectMapper MAPPER = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private Json() {}

    static ObjectNode object() {
        return MAPPER.createObjectNode();
    }

    /** Parses a request body; the error names no internals, only where the JSON broke. */
    static JsonNode parse(ByteBuf body) {
        try {
            JsonNode node = MAPPER.readTree((InputStream) new ByteBufInputStream(body.duplicate()));
            return node == null ? MAPPER.missingNode() : node;
        } catch (JsonProcessingException e) {
            var at = e.getLocation();
            String where = at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
            throw new RequestException(ApiError.invalid("invalid JSON" + where + ": " + firstLine(e.getOriginalMessage()), null));
        } catch (IOException e) {
            throw new RequestException(ApiError.invalid("unreadable request body", null));
        }
    }

    static ByteBuf write(ByteBufAllocator alloc, JsonNode node) {
        ByteBuf buf = alloc.buffer(256);
        writeTo(buf, node);
        return buf;
    }

    /** Appends {@code node} to {@code buf} as UTF-8 JSON. */
    static void writeTo(ByteBuf buf, JsonNode node) {
        try (ByteBufOutputStream out = new ByteBufOutputStream(buf)) {
            MAPPER.writeValue((OutputStream) out, node);
        } catch (IOException e) {
            // Writing a tree into memory cannot fail for I/O reasons.
            throw new UncheckedIOException(e);
        }
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "malformed";
        }
        int nl = message.indexOf('\n');
        return nl < 0 ? message : message.substring(0, nl);
    }
}
