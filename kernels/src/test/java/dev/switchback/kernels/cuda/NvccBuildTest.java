package dev.switchback.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NvccBuildTest {
    @Test
    void hopperGetsTheArchSpecificTargetOthersGetPtxToo() {
        assertEquals(List.of("-gencode=arch=compute_90a,code=sm_90a"), NvccBuild.archFlags(90));
        assertEquals(List.of("-gencode=arch=compute_80,code=sm_80", "-gencode=arch=compute_80,code=compute_80"),
                NvccBuild.archFlags(80));
        var old = assertThrows(CudaException.class, () -> NvccBuild.archFlags(61));
        assertTrue(old.getMessage().contains("6.1"), old.getMessage());
    }

    @Test
    void theCacheKeyFollowsSourcesArchitectureAndCompiler() {
        String src = NvccBuild.source();
        assertTrue(src.contains("sb_abi_version"), "the packaged kernel source");
        String key = NvccBuild.key(src, NvccBuild.archFlags(90), "nvcc 13.0");
        assertEquals(key, NvccBuild.key(src, NvccBuild.archFlags(90), "nvcc 13.0"));
        assertNotEquals(key, NvccBuild.key(src + " ", NvccBuild.archFlags(90), "nvcc 13.0"));
        assertNotEquals(key, NvccBuild.key(src, NvccBuild.archFlags(80), "nvcc 13.0"));
        assertNotEquals(key, NvccBuild.key(src, NvccBuild.archFlags(90), "nvcc 13.1"));
    }

    /** Where nvcc is installed (no GPU needed), the kernels compile for Hopper and the second call hits the cache. */
    @Test
    void compilesOnceAndCaches(@TempDir Path cache) throws Exception {
        Path nvcc;
        try {
            nvcc = NvccBuild.findNvcc();
        } catch (CudaException none) {
            assumeTrue(false, none.getMessage());
            return;
        }
        assertTrue(Files.isExecutable(nvcc));
        Path lib = NvccBuild.library(90, cache);
        assertTrue(Files.size(lib) > 10_000, "a shared library was written");
        long modified = Files.getLastModifiedTime(lib).toMillis();
        assertEquals(lib, NvccBuild.library(90, cache));
        assertEquals(modified, Files.getLastModifiedTime(lib).toMillis(), "not rebuilt");
        try (var files = Files.list(lib.getParent())) {
            assertEquals(List.of(lib), files.toList(), "no build leftovers next to the library");
        }
    }
}
