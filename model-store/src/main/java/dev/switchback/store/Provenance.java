package dev.switchback.store;

import dev.switchback.store.model.ConfigException;

/**
 * Where a model came from. Every field but the counters may be {@code null} when unknown.
 *
 * @param corpus name or path of the training corpus
 * @param corpusSha256 SHA-256 of the corpus file (64 lower-case hex digits)
 * @param steps optimizer steps taken
 * @param tokensSeen training tokens processed
 * @param evalLoss mean cross-entropy (nats/token) on the held-out split
 * @param evalPerplexity exp(evalLoss)
 * @param gitCommit commit of the code that trained it
 * @param command command line that produced it
 * @param createdAt ISO-8601 instant of publication
 * @param teacher {@code name:version} of the teacher, for distilled students
 */
public record Provenance(
        String corpus,
        String corpusSha256,
        long steps,
        long tokensSeen,
        Double evalLoss,
        Double evalPerplexity,
        String gitCommit,
        String command,
        String createdAt,
        String teacher) {

    public Provenance {
        if (steps < 0) {
            throw new ConfigException("steps", "must be >= 0, got " + steps);
        }
        if (tokensSeen < 0) {
            throw new ConfigException("tokensSeen", "must be >= 0, got " + tokensSeen);
        }
        if (corpusSha256 != null && !corpusSha256.matches("[0-9a-f]{64}")) {
            throw new ConfigException("corpusSha256", "must be 64 lower-case hex digits, got '" + corpusSha256 + "'");
        }
        if (evalLoss != null && !(Double.isFinite(evalLoss) && evalLoss >= 0)) {
            throw new ConfigException("evalLoss", "must be a finite number >= 0, got " + evalLoss);
        }
        if (evalPerplexity != null && !(Double.isFinite(evalPerplexity) && evalPerplexity >= 1)) {
            throw new ConfigException("evalPerplexity", "must be a finite number >= 1, got " + evalPerplexity);
        }
    }

    /** Provenance with nothing known, for hand-made and test models. */
    public static Provenance unknown() {
        return new Provenance(null, null, 0, 0, null, null, null, null, null, null);
    }
}
