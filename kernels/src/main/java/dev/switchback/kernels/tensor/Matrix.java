package dev.switchback.kernels.tensor;

/**
 * A weight matrix stored row-major as {@code [rows, cols]} — PyTorch's {@code [out, in]} layout — in F32 or BF16.
 * Kernels compute {@code x·Wᵀ}, so every output reads one contiguous row.
 */
public sealed interface Matrix permits Matrix.F32, Matrix.Bf16 {
    int rows();

    int cols();

    /** Bytes a full pass over the weights reads. */
    long bytes();

    /** Row {@code r} as floats (widened from BF16 where needed). */
    float[] row(int r);

    /** Copies row {@code r}, as floats, into {@code out} at {@code off}. */
    void rowInto(int r, float[] out, int off);

    /** An F32 matrix over {@code data} (not copied). */
    static F32 f32(float[] data, int rows, int cols) {
        return new F32(data, rows, cols);
    }

    /** A BF16 matrix rounded (to nearest even) from F32 values. */
    static Bf16 bf16(float[] data, int rows, int cols) {
        short[] bits = new short[data.length];
        for (int i = 0; i < data.length; i++) {
            bits[i] = Bf16.round(data[i]);
        }
        return new Bf16(bits, rows, cols);
    }

    /** Float32 weights. */
    record F32(float[] data, int rows, int cols) implements Matrix {
        public F32 {
            check(data.length, rows, cols);
        }

        @Override
        public long bytes() {
            return 4L * data.length;
        }

        @Override
        public float[] row(int r) {
            return java.util.Arrays.copyOfRange(data, r * cols, (r + 1) * cols);
        }

        @Override
        public void rowInto(int r, float[] out, int off) {
            System.arraycopy(data, r * cols, out, off, cols);
        }
    }

    /** bfloat16 weights: the upper 16 bits of a float32, so widening is a shift. */
    record Bf16(short[] data, int rows, int cols) implements Matrix {
        public Bf16 {
            check(data.length, rows, cols);
        }

        @Override
        public long bytes() {
            return 2L * data.length;
        }

        @Override
        public float[] row(int r) {
            float[] out = new float[cols];
            rowInto(r, out, 0);
            return out;
        }

        @Override
        public void rowInto(int r, float[] out, int off) {
            for (int c = 0; c < cols; c++) {
                out[off + c] = widen(data[r * cols + c]);
            }
        }

        /** The float a bfloat16 bit pattern stands for. */
        public static float widen(short bits) {
            return Float.intBitsToFloat(bits << 16);
        }

        /** Rounds to the nearest bfloat16, ties to even; NaN stays NaN. */
        public static short round(float value) {
            int bits = Float.floatToRawIntBits(value);
            if (Float.isNaN(value)) {
                return (short) ((bits >>> 16) | 0x40);
            }
            int rounding = 0x7FFF + ((bits >>> 16) & 1);
            return (short) ((bits + rounding) >>> 16);
        }
    }

    private static void check(int length, int rows, int cols) {
        if (rows <= 0 || cols <= 0 || (long) rows * cols != length) {
            throw new IllegalArgumentException("matrix [" + rows + ", " + cols + "] needs " + (long) rows * cols
                    + " values, got " + length);
        }
    }
}
