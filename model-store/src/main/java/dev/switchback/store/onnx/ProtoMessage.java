package dev.switchback.store.onnx;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * One protocol-buffers message in wire format, written field by field. Nested messages and large byte arrays are
 * kept by reference and only copied when the whole message is written out, so a model's weights are held once.
 * Field numbers and types are the caller's (see {@link Onnx} for onnx.proto's).
 */
final class ProtoMessage {
    private static final int VARINT = 0;
    private static final int LENGTH_DELIMITED = 2;
    private static final int FIXED32 = 5;

    private final List<byte[]> chunks = new ArrayList<>();
    private ByteArrayOutputStream pending = new ByteArrayOutputStream();
    private long size;

    /** An int32, int64, enum or bool field (negative values take ten bytes, as protobuf's int64 encoding does). */
    ProtoMessage varint(int field, long value) {
        tag(field, VARINT);
        rawVarint(value);
        return this;
    }

    /** A float field. */
    ProtoMessage float32(int field, float value) {
        tag(field, FIXED32);
        int bits = Float.floatToRawIntBits(value);
        for (int i = 0; i < 4; i++) {
            put(bits >>> (8 * i));
        }
        return this;
    }

    ProtoMessage string(int field, String value) {
        return bytes(field, value.getBytes(StandardCharsets.UTF_8));
    }

    /** A bytes field; the array is kept, not copied, so it must not change afterwards. */
    ProtoMessage bytes(int field, byte[] value) {
        tag(field, LENGTH_DELIMITED);
        rawVarint(value.length);
        append(value);
        return this;
    }

    /** An embedded message; {@code message} must be complete (it is kept by reference). */
    ProtoMessage message(int field, ProtoMessage message) {
        tag(field, LENGTH_DELIMITED);
        rawVarint(message.size());
        message.flush();
        for (byte[] chunk : message.chunks) {
            append(chunk);
        }
        return this;
    }

    /** A packed repeated int64 field. */
    ProtoMessage packedVarints(int field, long[] values) {
        ProtoMessage body = new ProtoMessage();
        for (long v : values) {
            body.rawVarint(v);
        }
        return message(field, body);
    }

    /** Bytes this message takes in wire format. */
    long size() {
        return size;
    }

    void writeTo(OutputStream out) throws IOException {
        flush();
        for (byte[] chunk : chunks) {
            out.write(chunk);
        }
    }

    /** The whole message as one array (small messages, tests). */
    byte[] toByteArray() {
        ByteArrayOutputStream out = new ByteArrayOutputStream((int) size);
        try {
            writeTo(out);
        } catch (IOException e) {
            throw new AssertionError("a byte array stream does not fail", e);
        }
        return out.toByteArray();
    }

    private void tag(int field, int wireType) {
        if (field < 1) {
            throw new IllegalArgumentException("field numbers start at 1, got " + field);
        }
        rawVarint(((long) field << 3) | wireType);
    }

    private void rawVarint(long value) {
        while ((value & ~0x7FL) != 0) {
            put((int) ((value & 0x7F) | 0x80));
            value >>>= 7;
        }
        put((int) value);
    }

    private void put(int b) {
        pending.write(b);
        size++;
    }

    private void append(byte[] chunk) {
        flush();
        chunks.add(chunk);
        size += chunk.length;
    }

    private void flush() {
        if (pending.size() > 0) {
            chunks.add(pending.toByteArray());
            pending = new ByteArrayOutputStream();
        }
    }
}
