package dev.switchback.store.model;

/** Validation shared by the configuration records. */
final class Checks {
    private Checks() {}

    static void positive(String field, long value) {
        if (value <= 0) {
            throw new ConfigException(field, "must be > 0, got " + value);
        }
    }

    static void positive(String field, double value) {
        if (!(value > 0) || Double.isInfinite(value)) {
            throw new ConfigException(field, "must be > 0, got " + value);
        }
    }

    static void nonNegative(String field, double value) {
        if (!(value >= 0) || Double.isInfinite(value)) {
            throw new ConfigException(field, "must be >= 0, got " + value);
        }
    }

    static void probability(String field, double value) {
        if (!(value >= 0 && value < 1)) {
            throw new ConfigException(field, "must be in [0, 1), got " + value);
        }
    }

    static void sparse(String prefix, int experts, int every, int layers, double expertDropout) {
        if (experts < 2) {
            throw new ConfigException(prefix + ".experts", "a sparse model needs at least 2 experts, got " + experts);
        }
        if (every < 1 || every > layers) {
            throw new ConfigException(prefix + ".every", "must be in [1, layers=" + layers + "], got " + every);
        }
        probability(prefix + ".expertDropout", expertDropout);
    }

    static void learnedRouter(
            String prefix, double cfTrain, double cfEval, double alpha, double zLoss, double initScale) {
        positive(prefix + ".capacityFactorTrain", cfTrain);
        positive(prefix + ".capacityFactorEval", cfEval);
        nonNegative(prefix + ".balanceLossAlpha", alpha);
        nonNegative(prefix + ".zLossCoef", zLoss);
        positive(prefix + ".initScale", initScale);
    }
}
