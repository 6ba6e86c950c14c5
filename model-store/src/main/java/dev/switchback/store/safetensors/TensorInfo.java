package dev.switchback.store.safetensors;

import java.util.Arrays;
import java.util.Objects;

/** Where one tensor lies in a safetensors file: {@code offset} is relative to the start of the data. */
public record TensorInfo(String name, DType dtype, long[] shape, long offset, long byteLength) {

    public TensorInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        shape = shape.clone();
        if (offset < 0 || byteLength != TensorData.byteLength(name, dtype, shape)) {
            throw new IllegalArgumentException("tensor '" + name + "': offset " + offset + " / length " + byteLength
                    + " do not fit shape " + Codec.shapeString(shape) + " of " + dtype);
        }
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements (the product of the shape). */
    public long elementCount() {
        return byteLength / dtype.byteSize();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape)
                && offset == t.offset && byteLength == t.byteLength;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape), offset, byteLength);
    }

    @Override
    public String toString() {
        return name + " " + dtype + " " + Codec.shapeString(shape);
    }
}
