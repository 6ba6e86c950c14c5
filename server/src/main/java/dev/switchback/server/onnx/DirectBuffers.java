package dev.switchback.server.onnx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.HashMap;
import java.util.Map;

/**
 * Native-order direct buffers kept per tensor name and grown on demand, so ONNX Runtime reads inputs and writes
 * outputs in place, without a copy and without allocating direct memory at every step. A buffer's contents stay
 * until it is next grown. Not thread-safe: one engine thread uses it.
 */
final class DirectBuffers {
    private final Map<String, ByteBuffer> byName = new HashMap<>();

    /** The first {@code count} floats of {@code name}'s buffer. */
    FloatBuffer floats(String name, int count) {
        return bytes(name, 4L * count).asFloatBuffer();
    }

    /** The first {@code count} longs of {@code name}'s buffer. */
    LongBuffer longs(String name, int count) {
        return bytes(name, 8L * count).asLongBuffer();
    }

    private ByteBuffer bytes(String name, long size) {
        if (size > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("tensor " + name + " would take " + size + " bytes, more than one buffer holds");
        }
        ByteBuffer b = byName.get(name);
        if (b == null || b.capacity() < size) {
            // Grown by half again, so a batch growing a token at a time does not reallocate at every step.
            b = ByteBuffer.allocateDirect((int) Math.min(Integer.MAX_VALUE, Math.max(size, size + size / 2)));
            byName.put(name, b);
        }
        return b.slice(0, (int) size).order(ByteOrder.nativeOrder());
    }
}
