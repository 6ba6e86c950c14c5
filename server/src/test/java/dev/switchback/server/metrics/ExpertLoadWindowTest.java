package dev.switchback.server.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The load-imbalance window: max over mean of the last steps' expert counts, per layer. */
class ExpertLoadWindowTest {
    @Test
    void imbalanceIsMaxOverMeanOfTheStepsInTheWindow() {
        ExpertLoadWindow w = new ExpertLoadWindow(2, 2, 2);
        assertTrue(Double.isNaN(w.imbalance(0)), "no tokens yet");
        w.add(new long[] {4, 0, 1, 1}); // layer 0: all on expert 0; layer 1: balanced
        assertEquals(2.0, w.imbalance(0));
        assertEquals(1.0, w.imbalance(1));
        w.add(new long[] {0, 4, 1, 1});
        assertEquals(1.0, w.imbalance(0), "over two steps both experts got 4");
        w.add(new long[] {0, 4, 3, 1});
        assertEquals(2.0, w.imbalance(0), "the first step left the window");
        assertEquals(4 / 3.0, w.imbalance(1), 1e-12);
    }
}
