package dev.switchback.cli.bench.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class PromptSourceTest {
    private static final List<String> VERSES = List.of("In the beginning God created the heaven and the earth.",
            "And the earth was without form, and void; and darkness was upon the face of the deep.",
            "And God said, Let there be light: and there was light.");

    @Test
    void promptsAreConsecutiveVersesCutAtAWordBoundary() {
        PromptSource source = new PromptSource(VERSES, 1);
        String all = String.join(" ", VERSES) + " " + String.join(" ", VERSES);
        for (int i = 0; i < 50; i++) {
            String p = source.next(40);
            assertTrue(p.length() <= 40 && p.length() >= 30, p);
            assertTrue(all.contains(p), "a run of consecutive verses: " + p);
            assertTrue(all.contains(p + " "), "ends at a word boundary: " + p);
        }
    }

    @Test
    void longPromptsWrapAroundAndSeedsRepeat() {
        String p = new PromptSource(VERSES, 2).next(1000);
        assertTrue(p.length() > 990 && p.length() <= 1000, "length " + p.length());
        PromptSource a = new PromptSource(VERSES, 9);
        PromptSource b = new PromptSource(VERSES, 9);
        for (int i = 0; i < 20; i++) {
            assertEquals(a.next(64), b.next(64));
        }
    }
}
