package dev.switchback.kernels.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class MatrixTest {
    private static short round(int floatBits) {
        return Matrix.Bf16.round(Float.intBitsToFloat(floatBits));
    }

    /**
     * An independent round-to-nearest-even: the two bfloat16 neighbours of x, compared by exact distance (floats
     * differ exactly in double), the one with the even last bit on a tie. Past the largest finite bfloat16 the
     * upper neighbour is infinity, which IEEE rounding treats as 2¹²⁸ when measuring the distance.
     */
    private static short reference(float x) {
        int bits = Float.floatToRawIntBits(x);
        int down = bits & 0xFFFF0000;
        if (Float.intBitsToFloat(down) == x) {
            return (short) (down >>> 16);
        }
        int up = down + 0x10000;
        double upValue = (up & 0x7FFFFFFF) == 0x7F800000 ? Math.copySign(0x1p128, x) : Float.intBitsToFloat(up);
        double toDown = Math.abs((double) x - Float.intBitsToFloat(down));
        double toUp = Math.abs(upValue - x);
        if (toDown != toUp) {
            return (short) ((toDown < toUp ? down : up) >>> 16);
        }
        return (short) ((((down >>> 16) & 1) == 0 ? down : up) >>> 16);
    }

    @ParameterizedTest(name = "{0} → {1}")
    @CsvSource({
        // exact values stay
        "0x3F800000, 0x3F80", // 1.0
        "0x00000000, 0x0000", // +0
        "0x80000000, 0x8000", // −0
        "0xC0490000, 0xC049", // −3.140625
        // below, above and at the halfway point; ties go to the even last bit
        "0x3F807FFF, 0x3F80",
        "0x3F808001, 0x3F81",
        "0x3F808000, 0x3F80", // tie, 0x3F80 even: down
        "0x3F818000, 0x3F82", // tie, 0x3F81 odd: up
        "0x3FFF8000, 0x4000", // tie, odd: up, carrying into the exponent (1.9921875 + half an ulp → 2)
        // negative numbers round on the magnitude, symmetrically
        "0xBF807FFF, 0xBF80",
        "0xBF808001, 0xBF81",
        "0xBF808000, 0xBF80",
        "0xBF818000, 0xBF82",
        // infinities stay; overflow past the largest finite bfloat16 goes to infinity
        "0x7F800000, 0x7F80",
        "0xFF800000, 0xFF80",
        "0x7F7F7FFF, 0x7F7F", // just below the halfway point: largest finite bfloat16
        "0x7F7F8000, 0x7F80", // tie, 0x7F7F odd: up to +∞
        "0x7F7FFFFF, 0x7F80", // Float.MAX_VALUE
        "0xFF7FFFFF, 0xFF80", // −Float.MAX_VALUE
        // subnormals
        "0x00000001, 0x0000",
        "0x00008000, 0x0000", // tie, even: down to zero
        "0x00018000, 0x0002", // tie, odd: up
        "0x807FFFFF, 0x8080", // largest negative subnormal rounds up to −Float.MIN_NORMAL
    })
    void roundsToNearestEvenBitExactly(String in, String out) {
        int bits = Integer.parseUnsignedInt(in.substring(2), 16);
        short expected = (short) Integer.parseInt(out.substring(2), 16);
        assertEquals(expected, round(bits), () -> in + " → " + Integer.toHexString(round(bits) & 0xFFFF));
        assertEquals(expected, reference(Float.intBitsToFloat(bits)), "the reference agrees on " + in);
    }

    @ParameterizedTest
    @CsvSource({"0x7FC00000", "0xFFC00000", "0x7F800001", "0xFF800001", "0x7F80FFFF", "0x7FFFFFFF", "0x7F810000"})
    void nanStaysNan(String in) {
        int bits = Integer.parseUnsignedInt(in.substring(2), 16);
        short b = round(bits);
        assertTrue(Float.isNaN(Matrix.Bf16.widen(b)),
                in + " must stay NaN, not round to ±∞ (got 0x" + Integer.toHexString(b & 0xFFFF) + ")");
        assertEquals(bits >>> 31, (b >>> 15) & 1, "the sign of NaN is kept");
    }

    /** Every upper half, with the lower halves around the rounding decisions and random ones. */
    @Test
    void agreesWithTheReferenceOnEveryExponentAndMantissaPrefix() {
        Random random = new Random(11);
        int[] lows = {0x0000, 0x0001, 0x7FFF, 0x8000, 0x8001, 0xFFFF, -1, -1};
        for (int upper = 0; upper < 0x10000; upper++) {
            for (int low : lows) {
                int bits = (upper << 16) | (low < 0 ? random.nextInt(0x10000) : low);
                float x = Float.intBitsToFloat(bits);
                if (Float.isNaN(x)) {
                    assertTrue(Float.isNaN(Matrix.Bf16.widen(round(bits))), "NaN 0x" + Integer.toHexString(bits));
                    continue;
                }
                short expected = reference(x);
                if (round(bits) != expected) {
                    assertEquals(Integer.toHexString(expected & 0xFFFF), Integer.toHexString(round(bits) & 0xFFFF),
                            "rounding of 0x" + Integer.toHexString(bits));
                }
            }
        }
    }

    @Test
    void widenOfRoundIsWithinHalfABfloat16Ulp() {
        Random random = new Random(12);
        for (int i = 0; i < 200_000; i++) {
            float x = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(61) - 30));
            float back = Matrix.Bf16.widen(Matrix.Bf16.round(x));
            // 8 significant bits: the nearest bfloat16 is within 2⁻⁸ of x relative (2⁻⁹ of the binade's top).
            assertTrue(Math.abs(back - x) <= 0x1p-8 * Math.abs(x), x + " → " + back);
            assertEquals(Math.signum(x), Math.signum(back), "sign of " + x);
        }
        for (int b = 0; b < 0x10000; b++) {
            float v = Matrix.Bf16.widen((short) b);
            if (!Float.isNaN(v)) {
                assertEquals((short) b, Matrix.Bf16.round(v), "every bfloat16 round-trips: 0x" + Integer.toHexString(b));
            }
        }
    }

    @Test
    void bf16MatrixHoldsRoundedBitsAndWidensRows() {
        float[] data = {1f, Float.intBitsToFloat(0x3F818000), -2.5f, 1e-3f, 3f, Float.NEGATIVE_INFINITY};
        Matrix.Bf16 m = Matrix.bf16(data, 2, 3);
        assertEquals(2, m.rows());
        assertEquals(3, m.cols());
        assertEquals(12, m.bytes(), "2 bytes a weight");
        for (int i = 0; i < data.length; i++) {
            assertEquals(Matrix.Bf16.round(data[i]), m.data()[i]);
        }
        float[] row1 = m.row(1);
        assertArrayEquals(new float[] {Matrix.Bf16.widen(Matrix.Bf16.round(1e-3f)), 3f, Float.NEGATIVE_INFINITY}, row1);
        float[] into = new float[5];
        m.rowInto(0, into, 2);
        assertArrayEquals(new float[] {0, 0, 1f, Float.intBitsToFloat(0x3F820000), -2.5f}, into);
    }

    @Test
    void f32MatrixSharesItsArrayAndCopiesRows() {
        float[] data = {1, 2, 3, 4, 5, 6};
        Matrix.F32 m = Matrix.f32(data, 3, 2);
        assertEquals(24, m.bytes());
        assertArrayEquals(new float[] {5, 6}, m.row(2));
        float[] into = new float[3];
        m.rowInto(1, into, 1);
        assertArrayEquals(new float[] {0, 3, 4}, into);
        m.row(0)[0] = 99;
        assertEquals(1, data[0], "row() is a copy");
    }

    @Test
    void shapeMustMatchTheData() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Matrix.f32(new float[5], 2, 3));
        assertTrue(e.getMessage().contains("[2, 3]") && e.getMessage().contains("6") && e.getMessage().contains("5"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Matrix.bf16(new float[0], 0, 3));
        assertThrows(IllegalArgumentException.class, () -> new Matrix.Bf16(new short[6], 3, -2));
    }
}
