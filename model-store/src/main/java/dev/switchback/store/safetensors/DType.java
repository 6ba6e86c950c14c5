package dev.switchback.store.safetensors;

/** Element types this project stores, named as in the safetensors header. */
public enum DType {
    F32(4),
    F16(2),
    BF16(2),
    I32(4),
    I64(8);

    private final int byteSize;

    DType(int byteSize) {
        this.byteSize = byteSize;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** True for the floating-point types, which {@link SafetensorsFile#floats} converts to {@code float}. */
    public boolean isFloat() {
        return this == F32 || this == F16 || this == BF16;
    }

    /** The type named {@code name} in a header, or {@code null} if we do not support it. */
    static DType fromHeader(String name) {
        for (DType t : values()) {
            if (t.name().equals(name)) {
                return t;
            }
        }
        return null;
    }
}
