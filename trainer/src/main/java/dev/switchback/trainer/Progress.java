package dev.switchback.trainer;

import java.io.PrintWriter;

/**
 * A one-line progress bar with rate and ETA. On a terminal it redraws in place; elsewhere (CI, pipes) it prints
 * a plain line every {@code every} updates so logs stay short.
 */
final class Progress {
    private final PrintWriter out;
    private final String label;
    private final long total;
    private final boolean terminal;
    private final long startNanos = System.nanoTime();
    private final int every;
    private long updates;

    Progress(PrintWriter out, String label, long total, int every) {
        this.out = out;
        this.label = label;
        this.total = total;
        this.terminal = System.console() != null && System.console().isTerminal();
        this.every = Math.max(1, every);
    }

    /** Shows {@code done} of total with {@code detail}; rate is in {@code unit}s per second since the start. */
    void update(long done, long first, double unitsDone, String unit, String detail) {
        updates++;
        boolean last = done >= total;
        if (!terminal && !last && updates % every != 0) {
            return;
        }
        double seconds = (System.nanoTime() - startNanos) / 1e9;
        double rate = unitsDone / Math.max(seconds, 1e-9);
        double perStep = seconds / Math.max(1, done - first);
        long etaSeconds = Math.round(perStep * (total - done));
        int width = 24;
        int filled = (int) (width * done / Math.max(1, total));
        String bar = "#".repeat(filled) + "-".repeat(width - filled);
        String line = String.format("%s [%s] %d/%d %.0f %s/s ETA %s %s", label, bar, done, total, rate, unit,
                formatSeconds(etaSeconds), detail);
        if (terminal) {
            out.print("\r" + line + (last ? "\n" : ""));
        } else {
            out.println(line);
        }
        out.flush();
    }

    static String formatSeconds(long s) {
        return s >= 3600 ? String.format("%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String.format("%d:%02d", s / 60, s % 60);
    }
}
