package dev.switchback.cli;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code switchback dist}: the self-contained tarball for machines without a JDK ({@link Distribution}). */
@Command(name = "dist", mixinStandardHelpOptions = true,
        description = "Build switchback-<version>-linux-x64.tar.gz: a jlink Java runtime, the jars, the bundled model "
                + "store and bin/switchback. Needs a full JDK 25 (for jlink) and tar.")
final class DistCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--out", paramLabel = "DIR", description = "Where the tarball goes (default: .dist/ in the switchback home).")
    Path out;

    @Option(names = "--store", paramLabel = "DIR", description = "Model store to bundle (default: the bundled store, "
            + Defaults.BUNDLED_STORE + ").")
    Path store;

    @Option(names = "--jars", paramLabel = "DIR", description = "Folder with " + Distribution.CLI_JAR
            + " and lib/ (default: the folder of the running CLI jar, clients/target).")
    Path jars;

    @Option(names = "--with-training", description = "Also pack the PyTorch native library (~110 MB) that train and eval need.")
    boolean withTraining;

    @Override
    public Integer call() throws Exception {
        Path bundled = store != null ? store : Defaults.bundledStore();
        if (bundled == null) {
            throw new IllegalArgumentException("no bundled store below switchback.home; give one with --store DIR");
        }
        String home = System.getProperty("switchback.home", ".");
        Path outDir = out != null ? out : Path.of(home, ".dist");
        Distribution.build(new Distribution.Options(jars != null ? jars : runningJarFolder(), bundled, outDir, withTraining),
                spec.commandLine().getOut());
        return 0;
    }

    private static Path runningJarFolder() {
        try {
            Path location = Path.of(DistCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (Files.isRegularFile(location)) {
                return location.getParent();
            }
        } catch (URISyntaxException | SecurityException e) {
            // fall through to the message below
        }
        throw new IllegalArgumentException("not running from " + Distribution.CLI_JAR + "; give its folder with --jars DIR");
    }
}
