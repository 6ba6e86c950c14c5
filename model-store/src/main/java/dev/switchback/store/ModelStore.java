package dev.switchback.store;

import dev.switchback.store.model.ConfigException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A folder of versioned models: {@code <root>/<name>/<version>/}, versions numbered 1, 2, 3 … in publish order.
 *
 * <p>A published version is never modified; publishing goes through a hidden temporary folder and an atomic
 * rename, so concurrent publishers (threads or processes) get distinct versions and a crashed one leaves only a
 * hidden folder that is never listed.
 */
public final class ModelStore {
    private static final String TEMP_PREFIX = ".tmp-";

    private final Path root;

    public ModelStore(Path root) {
        this.root = Objects.requireNonNull(root, "root").toAbsolutePath().normalize();
    }

    /** The store's folder. */
    public Path root() {
        return root;
    }

    /** Starts publishing a new version of {@code name}: write the model's files into {@link Publication#dir()}. */
    public Publication begin(String name) throws IOException {
        checkName("name", name);
        Path nameDir = root.resolve(name);
        Files.createDirectories(nameDir);
        Path temp = Files.createDirectory(nameDir.resolve(TEMP_PREFIX + UUID.randomUUID()));
        return new Publication(name, nameDir, temp);
    }

    /** Every published version of every model, by name then version. */
    public List<ModelRef> list() throws IOException {
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        List<ModelRef> refs = new ArrayList<>();
        for (String name : children(root)) {
            if (isValidName(name) && Files.isDirectory(root.resolve(name))) {
                refs.addAll(versions(name));
            }
        }
        return List.copyOf(refs);
    }

    /** The published versions of {@code name}, oldest first (empty if none). */
    public List<ModelRef> versions(String name) throws IOException {
        checkName("name", name);
        Path nameDir = root.resolve(name);
        if (!Files.isDirectory(nameDir)) {
            return List.of();
        }
        List<ModelRef> refs = new ArrayList<>();
        for (String child : children(nameDir)) {
            int version = parseVersion(child);
            if (version > 0 && Files.isDirectory(nameDir.resolve(child))) {
                refs.add(new ModelRef(name, version, nameDir.resolve(child)));
            }
        }
        refs.sort(Comparator.comparingInt(ModelRef::version));
        return List.copyOf(refs);
    }

    /**
     * The folder of a model given as {@code name} (its latest version), {@code name:version}, or a path to a model
     * folder (anything containing a '/', e.g. {@code ./my-model}).
     */
    public Path resolve(String spec) throws IOException {
        if (spec == null || spec.isBlank()) {
            throw new IllegalArgumentException("model must be name, name:version or a path");
        }
        if (spec.contains("/") || spec.contains(java.io.File.separator)) {
            Path dir = Path.of(spec).toAbsolutePath().normalize();
            if (!Files.isDirectory(dir)) {
                throw new ModelStoreException("no model folder at " + dir);
            }
            return dir;
        }
        int colon = spec.lastIndexOf(':');
        String name = colon < 0 ? spec : spec.substring(0, colon);
        if (!isValidName(name)) {
            throw new IllegalArgumentException("'" + spec + "' is not name, name:version or a path containing '/'");
        }
        List<ModelRef> versions = versions(name);
        if (versions.isEmpty()) {
            List<ModelRef> all = list();
            String available = all.isEmpty() ? "the store is empty"
                    : "models: " + all.stream().map(ModelRef::name).distinct().collect(Collectors.joining(", "));
            throw new ModelStoreException("no model named '" + name + "' in store " + root + " (" + available + ")");
        }
        if (colon < 0) {
            return versions.getLast().dir();
        }
        int version = parseVersion(spec.substring(colon + 1));
        for (ModelRef ref : versions) {
            if (ref.version() == version) {
                return ref.dir();
            }
        }
        throw new ModelStoreException("model '" + name + "' has no version '" + spec.substring(colon + 1) + "' in store "
                + root + " (versions: " + versions.stream().map(r -> String.valueOf(r.version()))
                        .collect(Collectors.joining(", ")) + ")");
    }

    /** Checks a model folder: checksums, every file's format, and the files the manifest requires. */
    public VerificationReport verify(Path modelDir) {
        return ModelVerifier.verify(modelDir);
    }

    /** Verifies then opens a model folder; refuses, naming the files, one that is incomplete or altered. */
    public OpenedModel open(Path modelDir) throws IOException {
        return OpenedModel.open(modelDir);
    }

    /** {@link #open(Path)} of {@link #resolve(String)}. */
    public OpenedModel open(String spec) throws IOException {
        return open(resolve(spec));
    }

    /** Model names are one path segment of letters, digits, '.', '_' and '-', not starting with '.'. */
    static void checkName(String field, String name) {
        if (!isValidName(name)) {
            throw new ConfigException(field, "must be 1-128 letters, digits, '.', '_' or '-' not starting with '.' or '-', got '"
                    + name + "'");
        }
    }

    static boolean isValidName(String name) {
        return name != null && name.length() <= 128 && name.matches("[A-Za-z0-9_][A-Za-z0-9._-]*");
    }

    /** The version a folder name denotes: a positive decimal without leading zeros, else -1. */
    static int parseVersion(String s) {
        if (s.isEmpty() || s.length() > 9 || s.charAt(0) == '0' || !s.chars().allMatch(c -> c >= '0' && c <= '9')) {
            return -1;
        }
        return Integer.parseInt(s);
    }

    private static List<String> children(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }
}
