package dev.switchback.kernels.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class StopMatcherTest {
    /** Feeds the pieces and returns what each accept released, then the flush (or "" once stopped). */
    private static List<String> stream(StopMatcher m, String... pieces) {
        List<String> out = new ArrayList<>();
        for (String p : pieces) {
            out.add(m.accept(p));
        }
        out.add(m.flush());
        return out;
    }

    @Test
    void withoutStopStringsEverythingPassesStraightThrough() {
        StopMatcher m = new StopMatcher(List.of());
        assertEquals(List.of("Hello", ", world", ""), stream(m, "Hello", ", world"));
        assertFalse(m.stopped());
    }

    @Test
    void aStopInsideOnePieceCutsBeforeIt() {
        StopMatcher m = new StopMatcher(List.of("STOP"));
        assertEquals(List.of("one ", "two ", "", ""), stream(m, "one ", "two STOP three", "four"));
        assertTrue(m.stopped());
    }

    @Test
    void aStopSpanningPiecesIsHeldBackThenDropped() {
        StopMatcher m = new StopMatcher(List.of("</answer>"));
        assertEquals("42", m.accept("42</"));
        assertEquals("", m.accept("ans"));
        assertFalse(m.stopped());
        assertEquals("", m.accept("wer> and more"));
        assertTrue(m.stopped());
        assertEquals("", m.accept("ignored"));
        assertEquals("", m.flush());
    }

    @Test
    void aPrefixThatTurnsOutNotToBeAStopIsReleased() {
        StopMatcher m = new StopMatcher(List.of("STOP"));
        assertEquals("go ", m.accept("go ST"));
        assertEquals("", m.accept("O"));
        assertEquals("STORE", m.accept("RE"));
        assertEquals("", m.accept("S"));
        assertEquals("S", m.flush());
        assertFalse(m.stopped());
    }

    @Test
    void theStopThatCompletesFirstWins() {
        // "ab" completes before "abc" could.
        assertEquals(List.of("x", "", "", "", ""), stream(new StopMatcher(List.of("abc", "ab")), "x", "a", "b", "c"));
        assertEquals(List.of("x", ""), stream(new StopMatcher(List.of("abc", "ab")), "xabc"));
        // "bc" completes inside "abcd" before "abcd" does, whether the text comes at once or piece by piece.
        assertEquals(List.of("a", ""), stream(new StopMatcher(List.of("abcd", "bc")), "abcd"));
        assertEquals(List.of("", "", "a", "", ""), stream(new StopMatcher(List.of("abcd", "bc")), "a", "b", "c", "d"));
        // Ending at the same place, the longer one started first and cuts more.
        assertEquals(List.of("x", ""), stream(new StopMatcher(List.of("bc", "abc")), "xabc"));
    }

    @Test
    void aStopThatOverlapsItselfIsFoundAtItsFirstCompletion() {
        StopMatcher m = new StopMatcher(List.of("aab"));
        assertEquals(List.of("", "", "a", "", ""), stream(m, "a", "a", "a", "b"));
        assertTrue(m.stopped());
    }

    @Test
    void anyOfSeveralStopsEndsTheStream() {
        List<String> stops = List.of("\n\n", "END", "User:");
        assertEquals(List.of("line one\nline two", "", ""),
                stream(new StopMatcher(stops), "line one\nline two\n", "\nUser: hi"));
        assertEquals(List.of("done", "", ""), stream(new StopMatcher(stops), "doneEN", "D\n\n"));
        // "Us" might begin "User:", the newline before it begins nothing: only "Us" is held, until the end.
        assertEquals(List.of("a\nb\n", "", "", "User"), stream(new StopMatcher(stops), "a\nb\nUs", "e", "r"));
    }

    @Test
    void aStopAtTheVeryStartEmitsNothing() {
        StopMatcher m = new StopMatcher(List.of("###"));
        assertEquals(List.of("", "", ""), stream(m, "#", "##tail"));
        assertTrue(m.stopped());
    }

    @Test
    void emptyPiecesChangeNothing() {
        StopMatcher m = new StopMatcher(List.of("xy"));
        assertEquals(List.of("", "a", "", "", ""), stream(m, "", "ax", "", "y"));
        assertTrue(m.stopped());
    }

    @Test
    void invalidStopListsAreRejectedByIndex() {
        assertEquals("stops[1] must be a non-empty string, got \"\"", assertThrows(IllegalArgumentException.class,
                () -> new StopMatcher(List.of("a", ""))).getMessage());
        assertEquals("stops[0] must be a non-empty string, got null", assertThrows(IllegalArgumentException.class,
                () -> new StopMatcher(Arrays.asList((String) null))).getMessage());
        assertThrows(NullPointerException.class, () -> new StopMatcher(null));
        assertThrows(NullPointerException.class, () -> new StopMatcher(List.of("a")).accept(null));
    }

    /** Where the whole text is cut: before the stop occurrence that ends first (of those, the longest). */
    private static int cut(String text, List<String> stops) {
        for (int end = 1; end <= text.length(); end++) {
            int start = Integer.MAX_VALUE;
            for (String s : stops) {
                if (end >= s.length() && text.startsWith(s, end - s.length())) {
                    start = Math.min(start, end - s.length());
                }
            }
            if (start != Integer.MAX_VALUE) {
                return start;
            }
        }
        return -1;
    }

    /** Length of the longest tail of {@code text} that is a proper prefix of some stop. */
    private static int held(String text, List<String> stops) {
        int best = 0;
        for (String s : stops) {
            for (int k = 1; k < s.length() && k <= text.length(); k++) {
                if (text.endsWith(s.substring(0, k))) {
                    best = Math.max(best, k);
                }
            }
        }
        return best;
    }

    @Test
    void streamingAgreesWithMatchingTheWholeTextAndHoldsBackNoMoreThanNeeded() {
        SplittableRandom random = new SplittableRandom(12);
        for (int trial = 0; trial < 3_000; trial++) {
            List<String> stops = new ArrayList<>();
            for (int s = random.nextInt(4); s > 0; s--) {
                stops.add(word(random, 1 + random.nextInt(4)));
            }
            String text = word(random, random.nextInt(40));
            StopMatcher m = new StopMatcher(stops);
            StringBuilder emitted = new StringBuilder();
            int received = 0;
            while (received < text.length() && !m.stopped()) {
                int next = Math.min(text.length(), received + random.nextInt(6));
                emitted.append(m.accept(text.substring(received, next)));
                received = next;
                if (!m.stopped()) {
                    String soFar = text.substring(0, received);
                    assertEquals(received - held(soFar, stops), emitted.length(), soFar + " " + stops);
                }
            }
            emitted.append(m.flush());
            int cut = cut(text, stops);
            String context = "text=" + text + " stops=" + stops;
            assertEquals(cut >= 0, m.stopped(), context);
            assertEquals(cut >= 0 ? text.substring(0, cut) : text, emitted.toString(), context);
        }
    }

    private static String word(SplittableRandom random, int length) {
        char[] c = new char[length];
        for (int i = 0; i < length; i++) {
            c[i] = "abc".charAt(random.nextInt(3)); // a small alphabet makes partial matches common
        }
        return new String(c);
    }
}
