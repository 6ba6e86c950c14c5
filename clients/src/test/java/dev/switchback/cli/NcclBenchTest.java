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

    /** bench nccl-group refuses a bad rendezvous address or rank before touching CUDA or the network. */
    @Test
    void badGroupFlagsAreOneLine() {
        CliRun address = CliRun.of("bench", "nccl-group", "--rendezvous", "hostonly", "--world", "2", "--rank", "1");
        assertEquals(2, address.exitCode());
        assertEquals("error: --rendezvous must be HOST:PORT, got 'hostonly'", address.err().strip());
        CliRun port = CliRun.of("bench", "nccl-group", "--rendezvous", "127.0.0.1:70000", "--world", "2", "--rank", "1");
        assertEquals("error: --rendezvous must be HOST:PORT, got '127.0.0.1:70000'", port.err().strip());
        CliRun rank = CliRun.of("bench", "nccl-group", "--rendezvous", "127.0.0.1:9", "--world", "2", "--rank", "2");
        assertEquals("error: --rank 2 of --world 2: need a group of 2 or more and 0 <= rank < world", rank.err().strip());
        CliRun alone = CliRun.of("bench", "nccl-group", "--rendezvous", "127.0.0.1:9", "--world", "1", "--rank", "0");
        assertEquals("error: --rank 0 of --world 1: need a group of 2 or more and 0 <= rank < world", alone.err().strip());
    }

    /** shard-worker refuses a bad listen address before touching CUDA or the network; a CPU-only host gets one line. */
    @Test
    void shardWorkerFlagsAndMissingCudaAreOneLine() {
        CliRun address = CliRun.of("shard-worker", "--listen", "9300");
        assertEquals(2, address.exitCode());
        assertEquals("error: --listen must be HOST:PORT, got '9300'", address.err().strip());
        if (dev.switchback.kernels.cuda.Cudart.unavailableReason() != null) {
            CliRun noGpu = CliRun.of("shard-worker", "--listen", "127.0.0.1:0");
            assertEquals(2, noGpu.exitCode());
            assertEquals("error: shard-worker: " + dev.switchback.kernels.cuda.Cudart.unavailableReason(), noGpu.err().strip());
        }
    }
}
