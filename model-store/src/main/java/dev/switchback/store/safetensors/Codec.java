package dev.switchback.store.safetensors;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Element encoding: little-endian, unaligned (a tensor's offset need not be a multiple of its element size). */
final class Codec {
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Codec() {}

    /** float → bfloat16 (the top 16 bits), rounding to nearest, ties to even. */
    static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) {
            // Plain truncation could clear every mantissa bit left and turn a NaN into infinity: force a quiet NaN.
            return (short) ((bits >>> 16) | 0x0040);
        }
        int lsb = (bits >>> 16) & 1;
        return (short) ((bits + 0x7FFF + lsb) >>> 16);
    }

    static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** float → IEEE half, rounding to nearest, ties to even (the JDK's conversion, which keeps NaN a NaN). */
    static short floatToF16(float value) {
        return Float.floatToFloat16(value);
    }

    static float f16ToFloat(short bits) {
        return Float.float16ToFloat(bits);
    }

    static void encodeFloats(float[] values, DType as, MemorySegment dst) {
        switch (as) {
            case F32 -> MemorySegment.copy(values, 0, dst, F32, 0, values.length);
            case BF16 -> {
                for (int i = 0; i < values.length; i++) {
                    dst.setAtIndex(U16, i, floatToBf16(values[i]));
                }
            }
            case F16 -> {
                for (int i = 0; i < values.length; i++) {
                    dst.setAtIndex(U16, i, floatToF16(values[i]));
                }
            }
            default -> throw new IllegalArgumentException("cannot store floats as " + as + " (use F32, F16 or BF16)");
        }
    }

    static float[] decodeFloats(MemorySegment src, DType dtype, int count) {
        float[] out = new float[count];
        switch (dtype) {
            case F32 -> MemorySegment.copy(src, F32, 0, out, 0, count);
            case BF16 -> {
                for (int i = 0; i < count; i++) {
                    out[i] = bf16ToFloat(src.getAtIndex(U16, i));
                }
            }
            case F16 -> {
                for (int i = 0; i < count; i++) {
                    out[i] = f16ToFloat(src.getAtIndex(U16, i));
                }
            }
            default -> throw new IllegalArgumentException(dtype + " is not a floating-point type");
        }
        return out;
    }

    static int[] decodeInts(MemorySegment src, int count) {
        int[] out = new int[count];
        MemorySegment.copy(src, I32, 0, out, 0, count);
        return out;
    }

    /** Elements in a tensor of {@code shape}; throws on a negative dimension or an overflowing product. */
    static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension " + d);
            }
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    static String shapeString(long[] shape) {
        return java.util.Arrays.toString(shape);
    }
}
