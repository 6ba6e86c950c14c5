package dev.switchback.cli.bench.serve;

/**
 * Service-level objectives a request must meet to count towards goodput.
 *
 * @param ttftMillis most time to first token
 * @param tpotMillis most mean time per output token after the first
 */
public record Slo(double ttftMillis, double tpotMillis) {
    public Slo {
        if (!(ttftMillis > 0) || Double.isInfinite(ttftMillis)) {
            throw new IllegalArgumentException("--slo-ttft-ms must be a number > 0, got " + ttftMillis);
        }
        if (!(tpotMillis > 0) || Double.isInfinite(tpotMillis)) {
            throw new IllegalArgumentException("--slo-tpot-ms must be a number > 0, got " + tpotMillis);
        }
    }

    /** Whether a request met both; a request of one token has no TPOT and meets that one by definition. */
    boolean met(RequestResult r) {
        return r.ttftNanos() <= ttftMillis * 1e6 && (r.outputTokens() < 2 || r.tpotNanos() <= tpotMillis * 1e6);
    }
}
