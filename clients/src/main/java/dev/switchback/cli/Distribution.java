package dev.switchback.cli;

import dev.switchback.store.ModelRef;
import dev.switchback.store.ModelStore;
import dev.switchback.store.VerificationReport;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.jar.JarFile;
import java.util.spi.ToolProvider;
import java.util.stream.Stream;

/**
 * Builds {@code switchback-<version>-<os>-<arch>.tar.gz}: a jlink Java runtime, the jars, a model store and
 * {@code bin/switchback}, so that a machine without a JDK runs every command except {@code train}, {@code eval} and
 * {@code dist} (training needs the PyTorch native library, left out unless asked for; dist needs a JDK's jlink).
 *
 * <p>Layout, below {@code switchback-<version>/}: {@code bin/switchback}, {@code runtime/} (the Java runtime),
 * {@code lib/} (every jar, the CLI's included), {@code model-store/default-store/} (the bundled store; the same
 * path below the home as in a checkout, so one lookup serves both).
 */
final class Distribution {
    /**
     * The runtime's modules: what {@code jdeps --print-module-deps --ignore-missing-deps --multi-release 25} reports
     * for the CLI jar and its libraries (java.desktop for DJL's image API and headless plots, java.naming and jdk.jfr
     * for Netty and gRPC, java.sql for Jackson and protobuf's time types, jdk.unsupported for Unsafe users),
     * with the Vector API the engine runs on.
     */
    static final List<String> MODULES = List.of("java.base", "java.compiler", "java.desktop", "java.management",
            "java.naming", "java.net.http", "java.sql", "jdk.incubator.vector", "jdk.jfr", "jdk.unsupported");

    /** JVM flags of every launch, the same as the repository's {@code ./switchback} passes. */
    static final String JVM_FLAGS = "--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED"
            + " -Dai.djl.offline=true";

    /** The CLI's jar; its manifest's Implementation-Version names the distribution. */
    static final String CLI_JAR = "switchback-cli.jar";

    /**
     * What to package.
     *
     * @param jars folder holding {@value #CLI_JAR} and {@code lib/} with its dependencies ({@code clients/target})
     * @param store the model store to bundle; every model in it is verified first
     * @param outDir where the tarball goes (created when missing)
     * @param withTraining also pack the PyTorch native library (about 110 MB) that {@code train} and {@code eval} need
     */
    record Options(Path jars, Path store, Path outDir, boolean withTraining) {}

    /** The tarball written, its size in bytes and the version it carries. */
    record Result(Path tarball, long bytes, String version) {}

    private Distribution() {}

    /** Checks every input, then links, copies, packs; prints progress on {@code log}. */
    static Result build(Options o, PrintWriter log) throws IOException {
        ToolProvider jlink = ToolProvider.findFirst("jlink").orElseThrow(() -> new IllegalStateException(
                "jlink not found in the Java runtime at " + System.getProperty("java.home")
                        + "; run dist with a full JDK 25, e.g. JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 ./switchback dist"));
        Path cliJar = o.jars().resolve(CLI_JAR);
        if (!Files.isRegularFile(cliJar) || !Files.isDirectory(o.jars().resolve("lib"))) {
            throw new IllegalArgumentException("--jars: " + o.jars().toAbsolutePath() + " holds no " + CLI_JAR
                    + " and lib/; build them first: mvn -B -q -DskipTests package");
        }
        String version = versionOf(cliJar);
        List<Path> libs = libraries(o.jars().resolve("lib"), o.withTraining());
        List<ModelRef> models = verifiedModels(o.store());

        String top = "switchback-" + version;
        Path tarball = o.outDir().resolve(top + "-" + platform() + ".tar.gz");
        Files.createDirectories(o.outDir());
        Path staging = Files.createTempDirectory(o.outDir(), ".staging-");
        try {
            Path home = staging.resolve(top);
            Files.createDirectories(home);

            long t0 = System.nanoTime();
            log.printf("[1/4] jlink: a Java runtime of %d modules (%s), takes a minute…%n", MODULES.size(), String.join(",", MODULES));
            log.flush();
            link(jlink, home.resolve("runtime"));
            log.printf("      runtime/ %s in %.0f s%n", ModelsCommand.bytes(sizeOf(home.resolve("runtime"))), seconds(t0));

            Path lib = Files.createDirectories(home.resolve("lib"));
            Files.copy(cliJar, lib.resolve(CLI_JAR));
            for (Path jar : libs) {
                Files.copy(jar, lib.resolve(jar.getFileName()));
            }
            log.printf("[2/4] lib/: %d jars, %s%s%n", libs.size() + 1, ModelsCommand.bytes(sizeOf(lib)),
                    o.withTraining() ? " (with the PyTorch native library for train and eval)"
                            : " (without the PyTorch native library: serving needs none; dist --with-training adds it)");

            copyTree(o.store(), home.resolve(Defaults.BUNDLED_STORE));
            log.printf("[3/4] %s/: %s (%s)%n", Defaults.BUNDLED_STORE, models.stream().map(ModelRef::toString).toList(),
                    ModelsCommand.bytes(sizeOf(home.resolve(Defaults.BUNDLED_STORE))));
            writeLauncher(home.resolve("bin/switchback"));

            long t1 = System.nanoTime();
            log.printf("[4/4] packing %s…%n", tarball.getFileName());
            log.flush();
            Path partial = o.outDir().resolve("." + tarball.getFileName() + ".partial");
            tar(staging, top, partial);
            Files.move(partial, tarball, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            long bytes = Files.size(tarball);
            log.printf("      %.0f s%n", seconds(t1));
            log.printf("wrote %s (%s)%n", tarball.toAbsolutePath(), ModelsCommand.bytes(bytes));
            log.flush();
            return new Result(tarball, bytes, version);
        } finally {
            deleteTree(staging);
        }
    }

    /** {@code linux-x64} on the machine this project targets; otherwise the JDK's own os and arch names. */
    static String platform() {
        String os = System.getProperty("os.name").toLowerCase(Locale.ROOT).replace(' ', '-');
        String arch = System.getProperty("os.arch");
        return os + "-" + (arch.equals("amd64") || arch.equals("x86_64") ? "x64" : arch);
    }

    /** The bin/switchback script: the bundled runtime, the project's JVM flags, the home it lives in. */
    static String launcher() {
        return """
                #!/usr/bin/env bash
                # switchback from its distribution: the bundled Java runtime, lib/*.jar and the bundled model store.
                set -euo pipefail
                self="${BASH_SOURCE[0]}"
                while [[ -L "$self" ]]; do  # follow links (e.g. from /usr/local/bin) to find the home
                  target="$(readlink "$self")"
                  if [[ "$target" == /* ]]; then self="$target"; else self="$(dirname "$self")/$target"; fi
                done
                home="$(cd "$(dirname "$self")/.." && pwd)"
                exec "$home/runtime/bin/java" FLAGS \\
                  -Dswitchback.home="$home" ${SWITCHBACK_JAVA_OPTS:-} -cp "$home/lib/*" dev.switchback.cli.Main "$@"
                """.replace("FLAGS", JVM_FLAGS);
    }

    private static String versionOf(Path cliJar) throws IOException {
        try (JarFile jar = new JarFile(cliJar.toFile())) {
            String version = jar.getManifest() == null ? null
                    : jar.getManifest().getMainAttributes().getValue("Implementation-Version");
            if (version == null || !version.matches("[A-Za-z0-9._-]+")) {
                throw new IllegalArgumentException(cliJar + " has no usable Implementation-Version (" + version
                        + "); rebuild it: mvn -B -q -DskipTests package");
            }
            return version;
        }
    }

    private static List<Path> libraries(Path lib, boolean withTraining) throws IOException {
        try (Stream<Path> s = Files.list(lib)) {
            List<Path> jars = s.filter(p -> p.getFileName().toString().endsWith(".jar"))
                    .filter(p -> withTraining || !trainingOnly(p.getFileName().toString()))
                    .sorted()
                    .toList();
            if (jars.isEmpty()) {
                throw new IllegalArgumentException("--jars: " + lib.toAbsolutePath() + " holds no jars");
            }
            return jars;
        }
    }

    /** The PyTorch native library: only DJL training and evaluation load it; the native engine serves without it. */
    static boolean trainingOnly(String jarName) {
        return jarName.startsWith("pytorch-native-");
    }

    private static List<ModelRef> verifiedModels(Path store) throws IOException {
        ModelStore s = new ModelStore(store);
        List<ModelRef> models = s.list();
        if (models.isEmpty()) {
            throw new IllegalArgumentException("--store: no models in " + s.root() + " to bundle");
        }
        for (ModelRef ref : models) {
            VerificationReport report = s.verify(ref.dir());
            if (!report.ok()) {
                throw new IllegalStateException("--store: " + ref + " fails verification, not bundling it: "
                        + report.describe().strip().replace('\n', ';'));
            }
        }
        return models;
    }

    private static void link(ToolProvider jlink, Path output) {
        ByteArrayOutputStream messages = new ByteArrayOutputStream();
        PrintStream sink = new PrintStream(messages, true, StandardCharsets.UTF_8);
        int code = jlink.run(sink, sink, "--add-modules", String.join(",", MODULES), "--strip-debug", "--no-header-files",
                "--no-man-pages", "--compress=zip-9", "--output", output.toString());
        if (code != 0) {
            throw new IllegalStateException("jlink failed (exit " + code + "): "
                    + messages.toString(StandardCharsets.UTF_8).strip().replace('\n', ' '));
        }
    }

    private static void writeLauncher(Path file) throws IOException {
        Files.createDirectories(file.getParent());
        Files.writeString(file, launcher());
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    /** Packs {@code dir/top} with the system's tar (every Linux has one; it keeps modes and the runtime's links). */
    private static void tar(Path dir, String top, Path tarball) throws IOException {
        Process p;
        try {
            p = new ProcessBuilder("tar", "-czf", tarball.toString(), "-C", dir.toString(), top)
                    .redirectErrorStream(true)
                    .start();
        } catch (IOException e) {
            throw new IllegalStateException("cannot run tar to pack the distribution: " + e.getMessage());
        }
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        try {
            if (p.waitFor() != 0) {
                Files.deleteIfExists(tarball);
                throw new IllegalStateException("tar failed (exit " + p.exitValue() + "): " + output.replace('\n', ' '));
            }
        } catch (InterruptedException e) {
            p.destroy();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while packing " + tarball);
        }
    }

    /** Copies a store, leaving out hidden entries (a publisher's temporary folders are never part of it). */
    private static void copyTree(Path from, Path to) throws IOException {
        Files.walkFileTree(from, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                if (!dir.equals(from) && dir.getFileName().toString().startsWith(".")) {
                    return FileVisitResult.SKIP_SUBTREE;
                }
                Files.createDirectories(to.resolve(from.relativize(dir).toString()));
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                if (!file.getFileName().toString().startsWith(".")) {
                    Files.copy(file, to.resolve(from.relativize(file).toString()), StandardCopyOption.COPY_ATTRIBUTES);
                }
                return FileVisitResult.CONTINUE;
            }
        });
    }

    private static long sizeOf(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)).mapToLong(p -> {
                try {
                    return Files.size(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).sum();
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        List<Path> paths = new ArrayList<>();
        try (Stream<Path> s = Files.walk(dir)) {
            s.forEach(paths::add);
        }
        paths.sort(Comparator.reverseOrder());
        for (Path p : paths) {
            Files.deleteIfExists(p);
        }
    }

    private static double seconds(long startNanos) {
        return (System.nanoTime() - startNanos) / 1e9;
    }
}
