package dev.switchback.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.store.ModelFiles;
import dev.switchback.store.ModelStore;
import dev.switchback.store.PublishedModel;
import dev.switchback.store.TinyModels;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** dist refuses bad inputs with one line, before the minute of jlink; DistributionIT builds a real one. */
class DistCommandTest {
    @TempDir
    Path dir;

    private Path jars(String version) throws IOException {
        Path jars = Files.createDirectories(dir.resolve("jars"));
        Files.createDirectories(jars.resolve("lib"));
        writeJar(jars.resolve(Distribution.CLI_JAR), version);
        writeJar(jars.resolve("lib/picocli.jar"), null);
        return jars;
    }

    private static void writeJar(Path file, String version) throws IOException {
        Manifest m = new Manifest();
        m.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        if (version != null) {
            m.getMainAttributes().put(Attributes.Name.IMPLEMENTATION_VERSION, version);
        }
        try (OutputStream out = Files.newOutputStream(file); JarOutputStream jar = new JarOutputStream(out, m)) {
            jar.flush();
        }
    }

    private TokenizerCommandTest.Run dist(Path jars, Path store) {
        return TokenizerCommandTest.run("dist", "--jars", jars.toString(), "--store", store.toString(), "--out",
                dir.resolve("out").toString());
    }

    @Test
    void missingJarsSayHowToBuildThem() throws IOException {
        Path store = dir.resolve("store");
        TinyModels.publishServable(new ModelStore(store), "tiny", 1);
        TokenizerCommandTest.Run run = dist(Files.createDirectories(dir.resolve("nothing")), store);
        assertEquals(2, run.exitCode());
        assertEquals("error: --jars: " + dir.resolve("nothing") + " holds no switchback-cli.jar and lib/; build them first: "
                + "mvn -B -q -DskipTests package", run.err().strip());
    }

    @Test
    void aJarWithoutVersionIsRefused() throws IOException {
        Path store = dir.resolve("store");
        TinyModels.publishServable(new ModelStore(store), "tiny", 1);
        TokenizerCommandTest.Run run = dist(jars(null), store);
        assertEquals(2, run.exitCode());
        assertTrue(run.err().strip().matches("error: .*switchback-cli.jar has no usable Implementation-Version \\(null\\); "
                + "rebuild it: mvn -B -q -DskipTests package"), run.err());
    }

    @Test
    void aDamagedModelIsNeverBundled() throws IOException {
        Path store = dir.resolve("store");
        PublishedModel model = TinyModels.publishServable(new ModelStore(store), "tiny", 1);
        try (var ch = Files.newByteChannel(model.dir().resolve(ModelFiles.WEIGHTS), StandardOpenOption.WRITE)) {
            ch.position(ch.size() - 1).write(java.nio.ByteBuffer.wrap(new byte[] {42}));
        }
        TokenizerCommandTest.Run run = dist(jars("1.2.3"), store);
        assertEquals(2, run.exitCode(), run.err());
        assertTrue(run.err().startsWith("error: --store: tiny:1 fails verification, not bundling it: "), run.err());
        assertTrue(run.err().contains(ModelFiles.WEIGHTS), run.err());
        assertEquals(1, run.err().strip().lines().count(), run.err());
        assertFalse(Files.exists(dir.resolve("out")), "nothing written");
    }

    @Test
    void anEmptyStoreIsRefused() throws IOException {
        TokenizerCommandTest.Run run = dist(jars("1.2.3"), dir.resolve("empty"));
        assertEquals(2, run.exitCode());
        assertEquals("error: --store: no models in " + dir.resolve("empty") + " to bundle", run.err().strip());
    }

    @Test
    void theLauncherUsesTheBundledRuntimeWithTheProjectsFlags() {
        String launcher = Distribution.launcher();
        assertTrue(launcher.startsWith("#!/usr/bin/env bash\n"), launcher);
        assertTrue(launcher.contains("exec \"$home/runtime/bin/java\" " + Distribution.JVM_FLAGS + " \\\n"), launcher);
        assertTrue(launcher.contains("-Dswitchback.home=\"$home\""), launcher);
        assertTrue(launcher.contains("-cp \"$home/lib/*\" dev.switchback.cli.Main \"$@\""), launcher);
        assertTrue(Distribution.trainingOnly("pytorch-native-cpu-2.7.1-linux-x86_64.jar"));
        assertFalse(Distribution.trainingOnly("pytorch-engine-0.35.1.jar"), "the engine classes stay: the CLI links them");
    }
}
