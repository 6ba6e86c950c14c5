package dev.switchback.kernels.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class TokenHistoryTest {
    @Test
    void countsDistinctTokensOnly() {
        TokenHistory h = new TokenHistory();
        h.addAll(new int[] {5, 3, 5, 5, 0, 3});
        h.add(0);
        assertEquals(3, h.size());
        assertTrue(h.contains(5));
        assertTrue(h.contains(3));
        assertTrue(h.contains(0));
        assertFalse(h.contains(4));
        assertEquals(List.of(5, 3, 0), List.of(h.token(0), h.token(1), h.token(2)));
    }

    @Test
    void tokensBeyondTheInitialCapacityAndWordEdgesWork() {
        TokenHistory h = new TokenHistory();
        for (int t : new int[] {63, 64, 127, 128, 151_935, 1 << 20}) {
            assertFalse(h.contains(t));
            h.add(t);
            assertTrue(h.contains(t));
        }
        assertFalse(h.contains(62));
        assertFalse(h.contains(65));
        assertFalse(h.contains(151_934));
        assertFalse(h.contains(Integer.MAX_VALUE));
        assertFalse(h.contains(-1));
        assertEquals(6, h.size());
    }

    @Test
    void agreesWithASetOnRandomTokens() {
        SplittableRandom random = new SplittableRandom(11);
        TokenHistory h = new TokenHistory();
        Set<Integer> reference = new LinkedHashSet<>();
        for (int i = 0; i < 5_000; i++) {
            int t = random.nextInt(3_000);
            h.add(t);
            reference.add(t);
        }
        assertEquals(reference.size(), h.size());
        Set<Integer> listed = new HashSet<>();
        for (int i = 0; i < h.size(); i++) {
            listed.add(h.token(i));
        }
        assertEquals(reference, listed);
        for (int t = 0; t < 3_100; t++) {
            assertEquals(reference.contains(t), h.contains(t), "token " + t);
        }
    }

    @Test
    void negativeTokensAreRejected() {
        TokenHistory h = new TokenHistory();
        assertEquals("token must be >= 0, got -1",
                assertThrows(IllegalArgumentException.class, () -> h.add(-1)).getMessage());
        assertEquals(0, h.size());
    }
}
