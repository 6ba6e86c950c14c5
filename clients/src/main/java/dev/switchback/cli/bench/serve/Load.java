package dev.switchback.cli.bench.serve;

/** How requests arrive: an open model (arrivals at a rate, whatever the server does) or a closed one (fixed users). */
public sealed interface Load {

    /** A short label for tables and plots, e.g. {@code rate 4.0/s poisson} or {@code concurrency 8}. */
    String label();

    /**
     * Requests arrive at {@code ratePerSecond} on average, spaced by the arrival process, each sent whether or not
     * earlier ones have finished.
     */
    record Open(double ratePerSecond, Arrivals arrivals) implements Load {
        public Open {
            if (!(ratePerSecond > 0) || Double.isInfinite(ratePerSecond)) {
                throw new IllegalArgumentException("--rate must be a number > 0 (requests per second), got " + ratePerSecond);
            }
            if (arrivals == null) {
                throw new IllegalArgumentException("--arrivals is required (poisson or constant)");
            }
        }

        @Override
        public String label() {
            return String.format(java.util.Locale.ROOT, "rate %.2f/s %s", ratePerSecond, arrivals.name().toLowerCase(java.util.Locale.ROOT));
        }
    }

    /** {@code concurrency} users, each sending its next request as soon as its previous one ends. */
    record Closed(int concurrency) implements Load {
        public Closed {
            if (concurrency <= 0) {
                throw new IllegalArgumentException("--concurrency must be >= 1, got " + concurrency);
            }
        }

        @Override
        public String label() {
            return "concurrency " + concurrency;
        }
    }
}
