package dev.switchback.store.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The shared rotary tables: the defining angles, their layout, and refusals of shapes no model can have. */
class RotaryTablesTest {
    @Test
    void anglesArePositionTimesThetaToTheMinusTwoIOverHeadSize() {
        RotaryTables t = RotaryTables.of(8, 5, 10000);
        assertEquals(5 * 4, t.cos().length);
        assertEquals(5 * 4, t.sin().length);
        for (int p = 0; p < 5; p++) {
            for (int i = 0; i < 4; i++) {
                double angle = p * Math.pow(10000, -2.0 * i / 8);
                assertEquals((float) Math.cos(angle), t.cos()[p * 4 + i], 0f, "cos at position " + p + ", pair " + i);
                assertEquals((float) Math.sin(angle), t.sin()[p * 4 + i], 0f, "sin at position " + p + ", pair " + i);
            }
        }
        assertEquals(1f, t.cos()[0], 0f, "position 0 does not rotate");
        assertEquals((float) Math.cos(3.0), t.cos()[3 * 4], 0f, "pair 0 turns one radian per position");
    }

    @Test
    void oddHeadSizesAndEmptyTablesAreRefused() {
        IllegalArgumentException odd = assertThrows(IllegalArgumentException.class, () -> RotaryTables.of(7, 4, 10000));
        assertTrue(odd.getMessage().contains("even head size"), odd.getMessage());
        assertThrows(IllegalArgumentException.class, () -> RotaryTables.of(8, 0, 10000));
        assertThrows(IllegalArgumentException.class, () -> RotaryTables.of(8, 4, 0));
    }
}
