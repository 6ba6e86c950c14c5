package dev.switchback.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code switchback} command line: one entry point, one sub-command per job. */
@Command(
        name = "switchback",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Train, distil and serve sparse and recurrent language models.",
        subcommands = {
            CommandLine.HelpCommand.class,
            TokenizerCommand.class,
            TrainCommand.class,
            DistillCommand.class,
            EvalCommand.class,
            ModelsCommand.class,
            ShardWorkerCommand.class,
            GenerateCommand.class,
            ExportOnnxCommand.class,
            ServeCommand.class,
            BenchCommand.class,
            CompleteCommand.class,
            DistCommand.class,
        })
public final class Main {

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit code (tests call this instead of {@link #main}). */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler(new UserErrors());
        return cli.execute(args);
    }

    /** Prints known user errors (bad config, bad files) as one line instead of a stack trace. */
    static final class UserErrors implements CommandLine.IExecutionExceptionHandler {
        @Override
        public int handleExecutionException(Exception e, CommandLine cli, CommandLine.ParseResult parsed) {
            if (e instanceof IllegalArgumentException || e instanceof java.io.IOException || e instanceof IllegalStateException) {
                cli.getErr().println("error: " + e.getMessage());
                return 2;
            }
            if (e instanceof ai.djl.engine.EngineException) {
                Throwable root = e;
                while (root.getCause() != null) {
                    root = root.getCause();
                }
                cli.getErr().println("error: PyTorch, which train and eval need, cannot start: " + e.getMessage()
                        + (root != e ? " (" + root.getMessage() + ")" : "")
                        + "; a distribution has it only when built with 'switchback dist --with-training'");
                return 2;
            }
            cli.getErr().println("error: unexpected " + e);
            e.printStackTrace(cli.getErr());
            return 1;
        }
    }

    /** Version from the jar manifest, or "dev" when run from classes. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"switchback " + (v == null ? "dev" : v) + " (Java " + Runtime.version() + ")"};
        }
    }
}
