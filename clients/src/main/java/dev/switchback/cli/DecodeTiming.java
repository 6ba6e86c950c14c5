package dev.switchback.cli;

import java.util.List;
import picocli.CommandLine.Option;

/** How a decode benchmark times: batch sizes, prompt, timed and warm-up steps, repeats (a picocli mixin). */
final class DecodeTiming {
    @Option(names = "--batch", defaultValue = "1,16", paramLabel = "B,...", description = "Batch sizes (default: ${DEFAULT-VALUE}).")
    String batches;

    @Option(names = "--prompt-len", defaultValue = "16", paramLabel = "N")
    int promptLen;

    @Option(names = "--steps", defaultValue = "32", paramLabel = "N", description = "Timed decode steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--warmup", defaultValue = "8", paramLabel = "N")
    int warmup;

    @Option(names = "--repeats", defaultValue = "3", paramLabel = "N", description = "Best of N runs (default: ${DEFAULT-VALUE}).")
    int repeats;

    List<Integer> batchSizes() {
        return BenchCommand.ints(batches);
    }

    int maxBatch() {
        return batchSizes().stream().mapToInt(Integer::intValue).max().orElse(1);
    }
}
