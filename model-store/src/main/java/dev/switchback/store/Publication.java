package dev.switchback.store;

import dev.switchback.store.VerificationReport.Problem;
import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * A model being published: write its files into {@link #dir()}, then {@link #commit()}; {@link #close()} without
 * a commit removes everything written. Not thread-safe.
 */
public final class Publication implements AutoCloseable {
    /** Give up after this many lost races for a version number; only a runaway publisher loop gets there. */
    private static final int MAX_ATTEMPTS = 1000;

    private enum State { OPEN, COMMITTED, ABORTED }

    private final String name;
    private final Path nameDir;
    private final Path dir;
    private State state = State.OPEN;

    Publication(String name, Path nameDir, Path dir) {
        this.name = name;
        this.nameDir = nameDir;
        this.dir = dir;
    }

    /** The model name this publishes a version of. */
    public String name() {
        return name;
    }

    /** The hidden temporary folder to write the model's files into. */
    public Path dir() {
        return dir;
    }

    /**
     * Checks the files, writes SHA256SUMS, forces everything to disk and renames the folder atomically to the
     * next free version. Throws {@link ModelStoreException} listing the problems if the files do not form a valid
     * model (the folder is then kept until {@link #close()}).
     */
    public PublishedModel commit() throws IOException {
        if (state != State.OPEN) {
            throw new IllegalStateException("publication of " + name + " is already " + state.name().toLowerCase());
        }
        Files.deleteIfExists(dir.resolve(ModelFiles.CHECKSUMS)); // always ours, computed below
        List<Problem> problems = new ArrayList<>();
        Set<String> files = ModelVerifier.files(dir, problems);
        ModelVerifier.checkContents(dir, files, problems);
        if (problems.isEmpty()) {
            String manifestName = ModelManifest.read(dir.resolve(ModelFiles.MANIFEST)).name();
            if (!manifestName.equals(name)) {
                problems.add(new Problem(ModelFiles.MANIFEST, "name is '" + manifestName + "' but this publishes '" + name + "'"));
            }
        }
        if (!problems.isEmpty()) {
            throw new ModelStoreException("refusing to publish " + name + ", " + problems.size() + " problem(s):\n  "
                    + String.join("\n  ", problems.stream().map(Problem::toString).toList()));
        }

        Map<String, String> sums = new LinkedHashMap<>();
        for (String file : files) {
            sums.put(file, Sha256Sums.sha256(dir.resolve(file)));
            Disk.fsync(dir.resolve(file));
        }
        Sha256Sums.write(dir.resolve(ModelFiles.CHECKSUMS), sums);
        Disk.fsync(dir);

        for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
            int version = nextVersion();
            Path target = nameDir.resolve(Integer.toString(version));
            try {
                // rename(2) onto an existing non-empty folder fails, so two publishers never share a version.
                Files.move(dir, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileSystemException e) {
                if (Files.isDirectory(target)) {
                    continue; // another publisher took this version first
                }
                throw e;
            }
            Disk.fsync(nameDir);
            Disk.fsync(nameDir.getParent()); // nameDir itself may be new since begin()
            state = State.COMMITTED;
            return new PublishedModel(name, version, target, sums);
        }
        throw new ModelStoreException("could not find a free version for " + name + " in " + nameDir + " after "
                + MAX_ATTEMPTS + " attempts");
    }

    /** Removes the temporary folder and everything in it; does nothing after a commit. */
    public void abort() throws IOException {
        if (state != State.OPEN) {
            return;
        }
        state = State.ABORTED;
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** {@link #abort()} unless committed. */
    @Override
    public void close() throws IOException {
        abort();
    }

    private int nextVersion() throws IOException {
        int max = 0;
        try (Stream<Path> s = Files.list(nameDir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                max = Math.max(max, ModelStore.parseVersion(p.getFileName().toString()));
            }
        }
        return max + 1;
    }
}
