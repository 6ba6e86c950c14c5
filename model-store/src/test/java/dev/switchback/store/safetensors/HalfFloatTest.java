package dev.switchback.store.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class HalfFloatTest {

    private static int bf16(float f) {
        return Codec.floatToBf16(f) & 0xFFFF;
    }

    private static int bf16(int floatBits) {
        return bf16(Float.intBitsToFloat(floatBits));
    }

    private static int f16(float f) {
        return Codec.floatToF16(f) & 0xFFFF;
    }

    @Test
    void bf16ExactValues() {
        assertEquals(0x3F80, bf16(1.0f));
        assertEquals(0xC020, bf16(-2.5f));
        assertEquals(0x0000, bf16(0.0f));
        assertEquals(0x8000, bf16(-0.0f));
        assertEquals(0x7F80, bf16(Float.POSITIVE_INFINITY));
        assertEquals(0xFF80, bf16(Float.NEGATIVE_INFINITY));
        assertEquals(1.0f, Codec.bf16ToFloat((short) 0x3F80));
        assertEquals(-2.5f, Codec.bf16ToFloat((short) 0xC020));
    }

    @Test
    void bf16RoundsToNearestEven() {
        // 65504 = 0x477FE000: the dropped half 0xE000 is above the midpoint, so it rounds up to 65536.
        assertEquals(0x4780, bf16(65504f));
        assertEquals(65536f, Codec.bf16ToFloat((short) bf16(65504f)));
        assertEquals(0x3F80, bf16(0x3F808000)); // tie, 0x3F80 is even: down
        assertEquals(0x3F82, bf16(0x3F818000)); // tie, 0x3F81 is odd: up
        assertEquals(0x3F81, bf16(0x3F808001)); // just above the tie: up
        assertEquals(0x3F80, bf16(0x3F807FFF)); // just below the tie: down
        assertEquals(0x7F80, bf16(Float.MAX_VALUE)); // overflows to infinity
    }

    @Test
    void bf16Subnormals() {
        assertEquals(0x0000, bf16(Float.MIN_VALUE)); // 0x00000001 rounds to zero
        assertEquals(0x0001, bf16(0x00010000)); // smallest bf16 subnormal is exact
        assertEquals(0x0002, bf16(0x00018000)); // tie between 1 and 2: even
        assertEquals(0x0080, bf16(0x007FFFFF)); // largest float subnormal rounds up to the smallest normal
        assertEquals(Float.intBitsToFloat(0x00010000), Codec.bf16ToFloat((short) 0x0001));
    }

    @Test
    void bf16KeepsNaN() {
        // A NaN whose payload lies only in the low bits would become infinity if truncated.
        float lowPayloadNaN = Float.intBitsToFloat(0x7F800001);
        assertTrue(Float.isNaN(lowPayloadNaN));
        assertTrue(Float.isNaN(Codec.bf16ToFloat(Codec.floatToBf16(lowPayloadNaN))));
        assertTrue(Float.isNaN(Codec.bf16ToFloat(Codec.floatToBf16(Float.NaN))));
        assertTrue(Float.isNaN(Codec.bf16ToFloat(Codec.floatToBf16(Float.intBitsToFloat(0xFF800001)))));
    }

    @Test
    void f16ExactValues() {
        assertEquals(0x3C00, f16(1.0f));
        assertEquals(0xC100, f16(-2.5f));
        assertEquals(0x7BFF, f16(65504f)); // largest finite half
        assertEquals(0x7C00, f16(Float.POSITIVE_INFINITY));
        assertEquals(0x8000, f16(-0.0f));
        assertEquals(65504f, Codec.f16ToFloat((short) 0x7BFF));
        assertEquals(-2.5f, Codec.f16ToFloat((short) 0xC100));
    }

    @Test
    void f16RoundsToNearestEven() {
        float ulp = (float) Math.scalb(1.0, -10);
        assertEquals(0x3C00, f16(1.0f + ulp / 2)); // tie, 0x3C00 is even: down
        assertEquals(0x3C02, f16(1.0f + 3 * ulp / 2)); // tie, 0x3C01 is odd: up
        assertEquals(0x3C01, f16(Math.nextUp(1.0f + ulp / 2)));
        assertEquals(0x7C00, f16(65520f)); // tie between 65504 and 65536 (infinity): even is infinity
        assertEquals(0x7BFF, f16(Math.nextDown(65520f)));
    }

    @Test
    void f16Subnormals() {
        float smallest = (float) Math.scalb(1.0, -24);
        assertEquals(0x0001, f16(smallest));
        assertEquals(smallest, Codec.f16ToFloat((short) 0x0001));
        assertEquals(0x0000, f16(smallest / 2)); // tie between 0 and 1: even
        assertEquals(0x0002, f16(smallest * 1.5f)); // tie between 1 and 2: even
        assertEquals(0x03FF, f16(1023 * smallest)); // largest subnormal
        assertEquals(0x0000, f16(Float.MIN_VALUE));
    }

    @Test
    void f16KeepsNaN() {
        assertTrue(Float.isNaN(Codec.f16ToFloat(Codec.floatToF16(Float.NaN))));
        assertTrue(Float.isNaN(Codec.f16ToFloat(Codec.floatToF16(Float.intBitsToFloat(0x7F800001)))));
    }
}
