package dev.switchback.kernels.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

class SamplingParamsTest {
    private static final SamplingParams BASE = new SamplingParams(0.8, 40, 0.95, 1.1, 7L, 256, List.of("\n\n"));

    private static void rejects(String message, Executable construction) {
        assertEquals(message, assertThrows(IllegalArgumentException.class, construction).getMessage());
    }

    @Test
    void validParamsKeepTheirValues() {
        assertEquals(0.8, BASE.temperature());
        assertEquals(40, BASE.topK());
        assertEquals(0.95, BASE.topP());
        assertEquals(1.1, BASE.repetitionPenalty());
        assertEquals(7L, BASE.seed());
        assertEquals(256, BASE.maxTokens());
        assertEquals(List.of("\n\n"), BASE.stop());
        assertFalse(BASE.isGreedy());
    }

    @Test
    void greedyTurnsEverythingElseOff() {
        SamplingParams g = SamplingParams.greedy(16);
        assertEquals(new SamplingParams(0, 0, 1, 1, null, 16, List.of()), g);
        assertTrue(g.isGreedy());
    }

    @Test
    void withersChangeOneField() {
        assertEquals(new SamplingParams(1.5, 40, 0.95, 1.1, 7L, 256, List.of("\n\n")), BASE.withTemperature(1.5));
        assertEquals(new SamplingParams(0.8, 0, 0.95, 1.1, 7L, 256, List.of("\n\n")), BASE.withTopK(0));
        assertEquals(new SamplingParams(0.8, 40, 1, 1.1, 7L, 256, List.of("\n\n")), BASE.withTopP(1));
        assertEquals(new SamplingParams(0.8, 40, 0.95, 1, 7L, 256, List.of("\n\n")), BASE.withRepetitionPenalty(1));
        assertEquals(new SamplingParams(0.8, 40, 0.95, 1.1, null, 256, List.of("\n\n")), BASE.withSeed(null));
        assertEquals(new SamplingParams(0.8, 40, 0.95, 1.1, 7L, 1, List.of("\n\n")), BASE.withMaxTokens(1));
        assertEquals(new SamplingParams(0.8, 40, 0.95, 1.1, 7L, 256, List.of()), BASE.withStop(List.of()));
        rejects("topK must be >= 0, got -3", () -> BASE.withTopK(-3));
    }

    @Test
    void invalidTemperatureNamesTheField() {
        rejects("temperature must be >= 0, got -1.0", () -> BASE.withTemperature(-1));
        rejects("temperature must be >= 0, got NaN", () -> BASE.withTemperature(Double.NaN));
        rejects("temperature must be finite, got Infinity", () -> BASE.withTemperature(Double.POSITIVE_INFINITY));
    }

    @Test
    void invalidTopKNamesTheField() {
        rejects("topK must be >= 0, got -1", () -> BASE.withTopK(-1));
    }

    @Test
    void invalidTopPNamesTheField() {
        rejects("topP must be in (0, 1], got 0.0", () -> BASE.withTopP(0));
        rejects("topP must be in (0, 1], got -0.5", () -> BASE.withTopP(-0.5));
        rejects("topP must be in (0, 1], got 1.0001", () -> BASE.withTopP(1.0001));
        rejects("topP must be in (0, 1], got NaN", () -> BASE.withTopP(Double.NaN));
    }

    @Test
    void invalidRepetitionPenaltyNamesTheField() {
        rejects("repetitionPenalty must be > 0, got 0.0", () -> BASE.withRepetitionPenalty(0));
        rejects("repetitionPenalty must be > 0, got -1.2", () -> BASE.withRepetitionPenalty(-1.2));
        rejects("repetitionPenalty must be > 0, got NaN", () -> BASE.withRepetitionPenalty(Double.NaN));
        rejects("repetitionPenalty must be finite, got Infinity",
                () -> BASE.withRepetitionPenalty(Double.POSITIVE_INFINITY));
    }

    @Test
    void invalidMaxTokensNamesTheField() {
        rejects("maxTokens must be >= 1, got 0", () -> BASE.withMaxTokens(0));
        rejects("maxTokens must be >= 1, got -5", () -> BASE.withMaxTokens(-5));
    }

    @Test
    void invalidStopNamesTheFieldAndIndex() {
        rejects("stop must not be null (use an empty list for none)", () -> BASE.withStop(null));
        rejects("stop[1] must be a non-empty string, got \"\"", () -> BASE.withStop(List.of("a", "")));
        rejects("stop[0] must be a non-empty string, got null", () -> BASE.withStop(Arrays.asList((String) null)));
        rejects("stop must have at most 16 strings, got 17", () -> BASE.withStop(Collections.nCopies(17, "x")));
        assertEquals(16, BASE.withStop(Collections.nCopies(16, "x")).stop().size());
    }

    @Test
    void stopIsCopiedAndImmutable() {
        List<String> stops = new ArrayList<>(List.of("END"));
        SamplingParams p = BASE.withStop(stops);
        stops.add("MORE");
        assertEquals(List.of("END"), p.stop());
        assertThrows(UnsupportedOperationException.class, () -> p.stop().add("x"));
    }
}
