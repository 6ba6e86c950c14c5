package dev.switchback.kernels.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Compiles the kernel sources ({@code kernels/cuda/*.cu}, packaged in the jar under {@code cuda/}) with nvcc into
 * a shared library for the device's architecture, once: the library is cached under
 * {@code $SWITCHBACK_CACHE/cuda/<hash>/} keyed by a hash of the sources, the target architecture and the nvcc
 * version, and published by an atomic rename so a half-written library is never loaded.
 */
public final class NvccBuild {
    static final String SOURCE = "switchback.cu";
    static final String LIBRARY = "libswitchback-cuda.so";

    private NvccBuild() {}

    /** The nvcc to use: {@code $CUDA_HOME/bin/nvcc}, {@code /usr/local/cuda/bin/nvcc}, or the first on PATH. */
    public static Path findNvcc() {
        List<Path> candidates = new ArrayList<>();
        for (String home : new String[] {System.getenv("CUDA_HOME"), System.getenv("CUDA_PATH"), "/usr/local/cuda"}) {
            if (home != null && !home.isBlank()) {
                candidates.add(Path.of(home, "bin", "nvcc"));
            }
        }
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(":")) {
                if (!dir.isEmpty()) {
                    candidates.add(Path.of(dir, "nvcc"));
                }
            }
        }
        for (Path p : candidates) {
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        throw new CudaException("nvcc not found ($CUDA_HOME/bin, /usr/local/cuda/bin, PATH): the CUDA kernels are"
                + " compiled on this host; install the CUDA toolkit or use --device cpu");
    }

    /** nvcc flags selecting the architecture: sm_90a on Hopper (wgmma-capable), else sm_XY plus PTX for newer chips. */
    public static List<String> archFlags(int computeCapability) {
        if (computeCapability < 70) {
            throw new CudaException("compute capability " + computeCapability / 10 + "." + computeCapability % 10
                    + " is too old: the kernels need 7.0 or newer");
        }
        if (computeCapability == 90) {
            return List.of("-gencode=arch=compute_90a,code=sm_90a");
        }
        return List.of("-gencode=arch=compute_" + computeCapability + ",code=sm_" + computeCapability,
                "-gencode=arch=compute_" + computeCapability + ",code=compute_" + computeCapability);
    }

    /** The kernel sources as packaged. */
    public static String source() {
        try (InputStream in = NvccBuild.class.getResourceAsStream("/cuda/" + SOURCE)) {
            if (in == null) {
                throw new CudaException("kernel source cuda/" + SOURCE + " is missing from the jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new CudaException("cannot read kernel source cuda/" + SOURCE + ": " + e.getMessage(), e);
        }
    }

    /** The cache key: sources, architecture flags and compiler. */
    static String key(String source, List<String> flags, String compilerVersion) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(source.getBytes(StandardCharsets.UTF_8));
            sha.update(String.join(" ", flags).getBytes(StandardCharsets.UTF_8));
            sha.update(compilerVersion.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(sha.digest()).substring(0, 20);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static Path cacheRoot() {
        String env = System.getenv("SWITCHBACK_CACHE");
        Path root = env != null && !env.isBlank() ? Path.of(env) : Path.of(System.getProperty("user.home"), ".cache", "switchback");
        return root.resolve("cuda");
    }

    /** The compiled library for this architecture, building it first when the cache has none. */
    public static Path library(int computeCapability) {
        return library(computeCapability, cacheRoot());
    }

    /** As {@link #library(int)}, caching under {@code cache}. */
    public static Path library(int computeCapability, Path cache) {
        Path nvcc = findNvcc();
        List<String> flags = archFlags(computeCapability);
        String version = run(List.of(nvcc.toString(), "--version"), Path.of("."), 60).trim();
        String source = source();
        Path dir = cache.resolve(key(source, flags, version));
        Path lib = dir.resolve(LIBRARY);
        if (Files.isRegularFile(lib)) {
            return lib;
        }
        try {
            Files.createDirectories(dir);
            Path work = Files.createTempDirectory(dir, "build-");
            Path src = work.resolve(SOURCE);
            Files.writeString(src, source);
            Path out = work.resolve(LIBRARY);
            List<String> cmd = new ArrayList<>(List.of(nvcc.toString(), "-O3", "-std=c++17"));
            cmd.addAll(flags);
            Path cudaLib = nvcc.toRealPath().getParent().getParent().resolve("lib64");
            cmd.addAll(List.of("-shared", "-Xcompiler", "-fPIC", "-cudart", "shared", "-Xlinker", "-rpath," + cudaLib,
                    "-o", out.toString(), src.toString()));
            System.err.println("switchback: compiling CUDA kernels for " + String.join(" ", flags) + " with " + nvcc
                    + " (once; cached in " + dir + ")");
            run(cmd, work, 600);
            try {
                Files.move(out, lib, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(out, lib, StandardCopyOption.REPLACE_EXISTING);
            }
            Files.deleteIfExists(src);
            Files.deleteIfExists(work);
            return lib;
        } catch (IOException e) {
            throw new CudaException("cannot build the CUDA kernels in " + dir + ": " + e.getMessage(), e);
        }
    }

    private static String run(List<String> cmd, Path dir, int timeoutSeconds) {
        try {
            Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new CudaException(cmd.getFirst() + " did not finish in " + timeoutSeconds + " s");
            }
            String text = new String(out, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                String tail = text.length() > 4000 ? text.substring(text.length() - 4000) : text;
                throw new CudaException("nvcc failed (exit " + p.exitValue() + "): " + tail.strip());
            }
            return text;
        } catch (IOException e) {
            throw new CudaException("cannot run " + cmd.getFirst() + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CudaException("interrupted while running " + cmd.getFirst(), e);
        }
    }
}
