package dev.switchback.distill;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class GainReportTest {
    @Test
    void percentKeptIsTheShareOfThePerplexityGainTheStudentKeeps() {
        // Dense 100, teacher 90: a gain of 10; the student at 97 keeps 3 of it.
        assertEquals(30.0, new GainReport(90, 100, 97).percentKept().getAsDouble(), 1e-12);
        assertEquals(100.0, new GainReport(90, 100, 90).percentKept().getAsDouble(), 1e-12);
        assertEquals(0.0, new GainReport(90, 100, 100).percentKept().getAsDouble(), 1e-12);
        assertEquals(-50.0, new GainReport(90, 100, 105).percentKept().getAsDouble(), 1e-12, "worse than dense is negative");
        assertEquals(120.0, new GainReport(90, 100, 88).percentKept().getAsDouble(), 1e-12, "better than the teacher is over 100");
        assertEquals(100 * (99.1 - 97.3) / (99.1 - 94.8), new GainReport(94.8, 99.1, 97.3).percentKept().getAsDouble(), 1e-12);
        assertEquals("the student kept 30.0% of the teacher's gain (validation ppl: teacher 90.00, dense from scratch 100.00, "
                + "student 97.00)", new GainReport(90, 100, 97).describe());
        assertTrue(new GainReport(90, 100, 88).describe().startsWith("the student kept 120.0% of the teacher's gain, over 100%: "
                + "it is better than its teacher"), new GainReport(90, 100, 88).describe());
    }

    @Test
    void noGainMeansNoPercentage() {
        for (GainReport r : new GainReport[] {new GainReport(103.0, 99.1, 98.0), new GainReport(99.1, 99.1, 98.0)}) {
            assertFalse(r.teacherBetter());
            assertTrue(r.percentKept().isEmpty());
            assertTrue(r.describe().startsWith("the teacher is not better than the dense baseline trained from scratch, so there is "
                    + "no gain to keep and no percentage"), r.describe());
            assertFalse(r.describe().contains("%"), r.describe());
        }
    }

    @Test
    void rejectsImpossiblePerplexities() {
        assertThrows(IllegalArgumentException.class, () -> new GainReport(Double.NaN, 100, 97));
        assertThrows(IllegalArgumentException.class, () -> new GainReport(90, 0.5, 97));
        assertThrows(IllegalArgumentException.class, () -> new GainReport(90, 100, Double.POSITIVE_INFINITY));
    }
}
