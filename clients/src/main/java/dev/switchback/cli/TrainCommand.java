package dev.switchback.cli;

import dev.switchback.store.safetensors.DType;
import dev.switchback.trainer.TrainingRun;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code switchback train}: trains a model from a configuration file and publishes it to the store. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train a model from a JSON configuration and publish it to the store.")
final class TrainCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--config", required = true, paramLabel = "FILE", description = "Training configuration (trainer/configs/*.json).")
    Path config;

    @Option(names = "--steps", paramLabel = "N", description = "Override training.steps.")
    Integer steps;

    @Option(names = "--name", paramLabel = "NAME", description = "Publish under this name instead of the config's.")
    String name;

    @Mixin
    TrainingPaths paths;

    @Option(names = "--resume", description = "Continue from the run's latest checkpoint.")
    boolean resume;

    @Option(names = "--dtype", defaultValue = "F32", paramLabel = "F32|BF16|F16", description = "Weight type of the published model (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Override
    public Integer call() throws Exception {
        if (steps != null && steps <= 0) {
            throw new IllegalArgumentException("--steps: must be > 0, got " + steps);
        }
        DType weights;
        try {
            weights = DType.valueOf(dtype.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--dtype: must be F32, BF16 or F16, got " + dtype);
        }
        String command = "switchback train --config " + config + (steps != null ? " --steps " + steps : "")
                + (name != null ? " --name " + name : "") + (weights != DType.F32 ? " --dtype " + weights : "");
        TrainingRun.Result r = TrainingRun.run(new TrainingRun.Options(config, steps, paths.store(), name, paths.runs(),
                paths.cache(), resume, weights, command), spec.commandLine().getErr());
        spec.commandLine().getOut().printf(Locale.ROOT,
                "%s %s: val_loss %.4f val_ppl %.2f | %,d params (%,d active non-emb) | %.0f tok/s | MFU %.1f%% of %.1f GFLOP/s | %.0f s | published %s%n",
                r.name(), r.architecture(), r.validationLoss(), r.validationPerplexity(), r.totalParameters(), r.activeParameters(),
                r.tokensPerSecond(), 100 * r.mfu(), r.peakFlops() / 1e9, r.wallSeconds(), r.published().dir());
        return 0;
    }
}
