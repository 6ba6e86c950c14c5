package dev.switchback.cli;

import dev.switchback.distill.DistillationRun;
import dev.switchback.distill.FfnInit;
import dev.switchback.store.ModelStore;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code switchback distill}: distils a stored teacher into a dense student and reports the percent of gain kept. */
@Command(name = "distill", mixinStandardHelpOptions = true,
        description = "Distil a sparse, ladder or dense teacher into a dense student; report the percent of the teacher's gain kept.")
final class DistillCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--teacher", required = true, paramLabel = "NAME[:VERSION]|DIR", description = "Teacher model (store name or folder).")
    String teacher;

    @Option(names = "--student-config", required = true, paramLabel = "FILE", description = "Dense student's training configuration (trainer/configs/*.json).")
    Path studentConfig;

    @Option(names = "--alpha", defaultValue = "0.25", paramLabel = "A", description = "Weight of the teacher term in [0, 1] (default: ${DEFAULT-VALUE}).")
    double alpha;

    @Option(names = "--temperature", defaultValue = "1.0", paramLabel = "T", description = "Softmax temperature of the soft term, > 0; the term is scaled by T² (default: ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--steps", paramLabel = "N", description = "Student and baseline steps (default: the student config's).")
    Integer steps;

    @Option(names = "--ffn-init", defaultValue = "mean", paramLabel = "mean|expert0", description = "FFN of blocks sparse in the teacher: the experts' mean or expert 0 (default: ${DEFAULT-VALUE}).")
    String ffnInit;

    @Option(names = "--init", defaultValue = "teacher", paramLabel = "teacher|random", description = "Start the student from the teacher's weights, or from the baseline's random initialisation to measure the teacher's probabilities alone (default: ${DEFAULT-VALUE}).")
    String init;

    @Option(names = "--baseline", paramLabel = "NAME[:VERSION]|DIR", description = "Dense model trained from scratch to compare against (default: train one here).")
    String baseline;

    @Option(names = "--name", paramLabel = "NAME", description = "Publish the student under this name (default: <config name>-from-<teacher name>).")
    String name;

    @Mixin
    TrainingPaths paths;

    @Override
    public Integer call() throws Exception {
        DistillationRun.Settings settings = new DistillationRun.Settings(alpha, temperature, steps, FfnInit.parse("--ffn-init", ffnInit),
                DistillationRun.Settings.parseInit(init));
        ModelStore s = new ModelStore(paths.store());
        Path teacherDir = modelDir(s, teacher, "--teacher");
        Path baselineDir = baseline == null ? null : modelDir(s, baseline, "--baseline");
        String command = String.format(Locale.ROOT, "switchback distill --teacher %s --student-config %s --alpha %s --temperature %s%s "
                + "--ffn-init %s --init %s%s%s", teacher, studentConfig, alpha, temperature, steps != null ? " --steps " + steps : "",
                settings.ffnInit().label(), init, baseline != null ? " --baseline " + baseline : "", name != null ? " --name " + name : "");
        DistillationRun.Result r = DistillationRun.run(new DistillationRun.Options(teacherDir, studentConfig, settings, baselineDir,
                s.root(), name, paths.runs(), paths.cache(), command),
                spec.commandLine().getErr());
        spec.commandLine().getOut().printf("%s: %s | published %s (teacher %s, baseline %s) | report %s%n", r.student().ref(),
                r.report().describe(), r.student().dir(), r.teacher(), r.baseline(), r.runDir().resolve("report.json"));
        return 0;
    }

    private static Path modelDir(ModelStore store, String model, String option) {
        try {
            return Defaults.modelDir(store, model);
        } catch (IOException | IllegalArgumentException e) {
            throw new IllegalArgumentException(option + ": " + e.getMessage());
        }
    }
}
