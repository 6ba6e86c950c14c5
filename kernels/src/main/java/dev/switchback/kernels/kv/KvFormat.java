package dev.switchback.kernels.kv;

import java.util.Locale;

/** How a {@link BlockPool} stores keys and values; attention always computes in F32. */
public enum KvFormat {
    /** float32: exact. */
    F32(4),
    /** bfloat16: half the memory per block (twice the sequences in the same budget), rounded to nearest even. */
    BF16(2);

    private final int bytes;

    KvFormat(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes one stored key or value element takes. */
    public int bytesPerElement() {
        return bytes;
    }

    /** {@code f32} or {@code bf16} (any case), with an error that lists both. */
    public static KvFormat parse(String name) {
        for (KvFormat f : values()) {
            if (f.name().equalsIgnoreCase(name.strip())) {
                return f;
            }
        }
        throw new IllegalArgumentException("KV cache dtype must be f32 or bf16, got '" + name + "'");
    }

    /** The lower-case name flags and reports use. */
    public String flag() {
        return name().toLowerCase(Locale.ROOT);
    }
}
