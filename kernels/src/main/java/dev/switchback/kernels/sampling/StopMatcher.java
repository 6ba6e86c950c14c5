package dev.switchback.kernels.sampling;

import java.util.List;
import java.util.Objects;

/**
 * Finds stop strings in text that is generated piece by piece, holding back only the text that could still turn
 * out to begin one. Of several stop strings, the one that completes first wins, so the stream is cut exactly
 * where it would be if it were checked character by character.
 */
public final class StopMatcher {
    private final List<String> stops;
    private final int longest;
    // Text received but not yet released: the longest tail that is a proper prefix of some stop string.
    private String pending = "";
    private boolean stopped;

    public StopMatcher(List<String> stops) {
        Objects.requireNonNull(stops, "stops");
        int longest = 0;
        for (int i = 0; i < stops.size(); i++) {
            String s = stops.get(i);
            if (s == null || s.isEmpty()) {
                throw new IllegalArgumentException("stops[" + i + "] must be a non-empty string, got "
                        + (s == null ? "null" : "\"\""));
            }
            longest = Math.max(longest, s.length());
        }
        this.stops = List.copyOf(stops);
        this.longest = longest;
    }

    /**
     * Takes the next piece of text and returns what is now safe to emit. When a stop string completes, returns
     * the text before it; from then on {@link #stopped()} is true and everything else is dropped.
     */
    public String accept(String piece) {
        Objects.requireNonNull(piece, "piece");
        if (stopped) {
            return "";
        }
        String text = pending + piece;
        // Any occurrence lies partly in the new piece: one that ended in pending would have stopped us already.
        int start = -1;
        int end = Integer.MAX_VALUE;
        for (String s : stops) {
            int i = text.indexOf(s);
            int e = i + s.length();
            if (i >= 0 && (e < end || (e == end && i < start))) {
                start = i;
                end = e;
            }
        }
        if (start >= 0) {
            stopped = true;
            pending = "";
            return text.substring(0, start);
        }
        int held = heldBack(text);
        pending = text.substring(text.length() - held);
        return text.substring(0, text.length() - held);
    }

    /** At the end of generation: the text held back as a possible stop string that never completed. */
    public String flush() {
        String rest = pending;
        pending = "";
        return rest;
    }

    /** Whether a stop string has appeared; the generation should end. */
    public boolean stopped() {
        return stopped;
    }

    /** Length of the longest tail of {@code text} that is a proper prefix of some stop string. */
    private int heldBack(String text) {
        int n = text.length();
        for (int k = Math.min(n, longest - 1); k > 0; k--) {
            for (String s : stops) {
                if (s.length() > k && s.regionMatches(0, text, n - k, k)) {
                    return k;
                }
            }
        }
        return 0;
    }
}
