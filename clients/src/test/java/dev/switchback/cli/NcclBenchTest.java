package dev.switchback.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** {@code bench nccl}'s arguments are checked before any GPU is touched (the timing itself runs on GPU hosts). */
class NcclBenchTest {
    @Test
    void badSizesAndIterationsAreOneLine() {
        CliRun sizes = CliRun.of("bench", "nccl", "--sizes", "32,0");
        assertEquals(2, sizes.exitCode());
        assertEquals("error: --sizes: each size must be >= 1 KiB, got 0", sizes.err().strip());
        CliRun iters = CliRun.of("bench", "nccl", "--iters", "0");
        assertEquals("error: --iters must be >= 1, got 0", iters.err().strip());
    }
}
