package dev.switchback.store.safetensors;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor to write: name, element type, shape and its little-endian bytes.
 *
 * <p>The shape is copied; the byte array is not (tensors can be hundreds of megabytes), so the caller must not
 * change it after construction.
 */
public record TensorData(String name, DType dtype, long[] shape, byte[] bytes) {

    public TensorData {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(bytes, "bytes");
        if (name.isEmpty() || name.equals(SafetensorsFile.METADATA_KEY)) {
            throw new IllegalArgumentException("tensor name must be non-empty and not " + SafetensorsFile.METADATA_KEY);
        }
        shape = shape.clone();
        long expected = byteLength(name, dtype, shape);
        if (expected != bytes.length) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Codec.shapeString(shape) + " of "
                    + dtype + " needs " + expected + " bytes, got " + bytes.length);
        }
    }

    /** Stores {@code values} (row-major, {@code shape}) as F32, F16 or BF16, rounding to nearest even. */
    public static TensorData ofFloats(String name, long[] shape, float[] values, DType storeAs) {
        Objects.requireNonNull(storeAs, "storeAs");
        if (!storeAs.isFloat()) {
            throw new IllegalArgumentException("tensor '" + name + "': cannot store floats as " + storeAs);
        }
        checkCount(name, shape, values.length);
        byte[] bytes = new byte[Math.multiplyExact(values.length, storeAs.byteSize())];
        Codec.encodeFloats(values, storeAs, MemorySegment.ofArray(bytes));
        return new TensorData(name, storeAs, shape, bytes);
    }

    /** Stores {@code values} (row-major, {@code shape}) as I32. */
    public static TensorData ofInts(String name, long[] shape, int[] values) {
        checkCount(name, shape, values.length);
        byte[] bytes = new byte[Math.multiplyExact(values.length, DType.I32.byteSize())];
        MemorySegment.copy(values, 0, MemorySegment.ofArray(bytes), Codec.I32, 0, values.length);
        return new TensorData(name, DType.I32, shape, bytes);
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements (the product of the shape). */
    public long elementCount() {
        return Codec.elementCount(shape);
    }

    /** The values as floats (F32, F16 or BF16 tensors). */
    public float[] toFloats() {
        return Codec.decodeFloats(MemorySegment.ofArray(bytes), dtype, Math.toIntExact(elementCount()));
    }

    /** The values as ints (I32 tensors). */
    public int[] toInts() {
        if (dtype != DType.I32) {
            throw new IllegalArgumentException("tensor '" + name + "' is " + dtype + ", not I32");
        }
        return Codec.decodeInts(MemorySegment.ofArray(bytes), Math.toIntExact(elementCount()));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorData t && name.equals(t.name) && dtype == t.dtype
                && Arrays.equals(shape, t.shape) && Arrays.equals(bytes, t.bytes);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape), Arrays.hashCode(bytes));
    }

    @Override
    public String toString() {
        return "TensorData[" + name + " " + dtype + " " + Codec.shapeString(shape) + ", " + bytes.length + " bytes]";
    }

    static long byteLength(String name, DType dtype, long[] shape) {
        long elements = elementCount(name, shape);
        if (elements > Long.MAX_VALUE / dtype.byteSize()) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Codec.shapeString(shape) + " is too large");
        }
        return elements * dtype.byteSize();
    }

    private static long elementCount(String name, long[] shape) {
        try {
            return Codec.elementCount(shape);
        } catch (IllegalArgumentException | ArithmeticException e) {
            throw new IllegalArgumentException("tensor '" + name + "': invalid shape " + Codec.shapeString(shape), e);
        }
    }

    private static void checkCount(String name, long[] shape, int count) {
        Objects.requireNonNull(shape, "shape");
        long expected = elementCount(name, shape);
        if (expected != count) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Codec.shapeString(shape) + " has "
                    + expected + " elements, got " + count + " values");
        }
    }
}
