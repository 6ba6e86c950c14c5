package dev.switchback.server.models;

import dev.switchback.kernels.placement.PlacementStrategy;
import java.nio.file.Path;

/**
 * How a model sharded over several GPUs places each sparse block's experts.
 *
 * @param strategy {@code round-robin}, {@code load} (planned from the tokens each expert receives while the model reads
 *     {@code calibration}, the busiest experts getting spare copies) or {@code static-balanced} (a hash model's fixed
 *     table applied to {@code calibration}'s tokens, experts partitioned on that mass)
 * @param calibration a text ({@code .txt} or {@code .txt.gz}, read as a corpus: its training split first) for
 *     {@code load} and {@code static-balanced}; null for {@code round-robin}
 * @param calibrationTokens how many of its tokens are read
 */
public record PlacementOption(PlacementStrategy strategy, Path calibration, int calibrationTokens) {
    /** Tokens read from the calibration text unless told otherwise. */
    public static final int DEFAULT_TOKENS = 32_768;

    public PlacementOption {
        if (strategy == null) {
            throw new IllegalArgumentException("a placement needs a strategy");
        }
        if (strategy != PlacementStrategy.ROUND_ROBIN && calibration == null) {
            throw new IllegalArgumentException("expert placement " + strategy.flag() + " plans from the token counts of a"
                    + " calibration text: give one (serve --placement-text FILE)");
        }
        if (calibrationTokens < 1) {
            throw new IllegalArgumentException("calibrationTokens must be >= 1, got " + calibrationTokens);
        }
    }

    public static PlacementOption roundRobin() {
        return new PlacementOption(PlacementStrategy.ROUND_ROBIN, null, DEFAULT_TOKENS);
    }
}
