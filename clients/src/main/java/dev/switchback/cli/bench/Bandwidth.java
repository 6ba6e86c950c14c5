package dev.switchback.cli.bench;

import dev.switchback.kernels.cpu.Parallel;

/** Memory copy bandwidth with all the engine's threads, the denominator of the decode roofline. */
public final class Bandwidth {
    private Bandwidth() {}

    /**
     * Best of {@code repeats} parallel copies of a {@code megabytes} buffer, in bytes per second, counting bytes
     * read plus bytes written (as STREAM's copy does).
     */
    public static double copyBytesPerSecond(Parallel parallel, int megabytes, int repeats) {
        int n = megabytes * (1 << 20) / 4;
        float[] src = new float[n];
        float[] dst = new float[n];
        java.util.Arrays.fill(src, 1f);
        int chunks = parallel.threads();
        double best = 0;
        for (int r = 0; r < repeats; r++) {
            long start = System.nanoTime();
            // Work per item is set high so every thread gets a chunk.
            parallel.forRange(chunks, Long.MAX_VALUE / chunks, (from, to) -> {
                for (int c = from; c < to; c++) {
                    int lo = (int) ((long) n * c / chunks);
                    int hi = (int) ((long) n * (c + 1) / chunks);
                    System.arraycopy(src, lo, dst, lo, hi - lo);
                }
            });
            double seconds = (System.nanoTime() - start) / 1e9;
            best = Math.max(best, 2.0 * 4 * n / seconds);
        }
        if (dst[n - 1] != 1f) {
            throw new IllegalStateException("copy check failed");
        }
        return best;
    }
}
