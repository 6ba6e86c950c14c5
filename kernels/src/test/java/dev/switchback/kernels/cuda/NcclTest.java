package dev.switchback.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The NCCL binding. With one GPU a rank exchanges with itself, which runs the same grouped send/receive path an
 * all-to-all over several GPUs takes; with two or more, two ranks exchange uneven counts across GPUs.
 */
class NcclTest {
    @Test
    void devicesAreCheckedBeforeNcclIsLoaded() {
        assertEquals("NCCL needs at least one device", assertThrows(IllegalArgumentException.class, Nccl::open).getMessage());
        assertEquals("device 1 is listed twice; NCCL takes one rank per GPU",
                assertThrows(IllegalArgumentException.class, () -> Nccl.open(0, 1, 1)).getMessage());
    }

    @Test
    void aMachineWithoutNcclGetsOneClearLine() {
        assumeTrue(Nccl.findLibrary() == null, "NCCL is installed here");
        CudaException e = assertThrows(CudaException.class, () -> Nccl.open(0));
        assertTrue(e.getMessage().startsWith("NCCL not found"), e.getMessage());
    }

    @Tag("gpu")
    @Test
    void oneRankExchangesWithItselfAndBadCountsAreRefused() {
        assumeTrue(Cudart.unavailableReason() == null, "no CUDA");
        assumeTrue(Nccl.findLibrary() != null, "no NCCL");
        try (CudaDevice dev = CudaDevice.open(0); Nccl nccl = Nccl.open(0)) {
            assertEquals(1, nccl.ranks());
            assertEquals(0, nccl.device(0));
            assertTrue(nccl.version() >= 20000, "NCCL 2.x: " + nccl.version());
            float[] values = new float[10];
            for (int i = 0; i < values.length; i++) {
                values[i] = i + 1;
            }
            long src = dev.upload(values);
            long dst = dev.zeros(4L * 16);
            // Elements 2..7 of the send buffer land at 3..8 of the receive buffer.
            nccl.allToAll(new long[] {src}, new long[][] {{2}}, new long[][] {{6}}, new long[] {dst}, new long[][] {{3}},
                    Nccl.DataType.FLOAT32, new long[] {dev.stream()});
            dev.synchronize();
            float[] got = new float[16];
            dev.download(dst, got, 16);
            assertArrayEquals(new float[] {0, 0, 0, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0}, got);
            IllegalArgumentException negative = assertThrows(IllegalArgumentException.class, () -> nccl.allToAll(
                    new long[] {src}, new long[][] {{0}}, new long[][] {{-1}}, new long[] {dst}, new long[][] {{0}},
                    Nccl.DataType.FLOAT32, new long[] {dev.stream()}));
            assertEquals("rank 0 sends -1 elements to rank 0", negative.getMessage());
            assertThrows(IllegalArgumentException.class, () -> nccl.allToAll(new long[] {src, src}, new long[][] {{0}},
                    new long[][] {{1}}, new long[] {dst}, new long[][] {{0}}, Nccl.DataType.FLOAT32, new long[] {dev.stream()}));
        }
    }

    /**
     * Two GPUs, uneven counts both ways: every element arrives once, at the receiver's offset for its sender, in order
     * (what expert parallelism needs when a step routes different numbers of tokens to each device's experts).
     */
    @Tag("gpu")
    @Test
    void twoRanksExchangeUnevenCountsAcrossGpus() {
        assumeTrue(Cudart.unavailableReason() == null, "no CUDA");
        assumeTrue(Nccl.findLibrary() != null, "no NCCL");
        assumeTrue(Cudart.get().deviceCount() >= 2, "one GPU here");
        try (CudaDevice d0 = CudaDevice.open(0); CudaDevice d1 = CudaDevice.open(1); Nccl nccl = Nccl.open(0, 1)) {
            CudaDevice[] devs = {d0, d1};
            long[][] counts = {{2, 3}, {4, 1}}; // rank r sends counts[r][p] elements to rank p
            long[][] sendOffsets = {{0, 2}, {0, 4}};
            long[][] recvOffsets = {{0, 2}, {0, 3}}; // rank p receives from rank r at recvOffsets[p][r]
            long[] send = new long[2];
            long[] recv = new long[2];
            long[] streams = new long[2];
            for (int r = 0; r < 2; r++) {
                float[] values = new float[5];
                for (int i = 0; i < values.length; i++) {
                    values[i] = 100 * r + i;
                }
                send[r] = devs[r].upload(values);
                recv[r] = devs[r].zeros(4L * 8);
                streams[r] = devs[r].stream();
            }
            nccl.allToAll(send, sendOffsets, counts, recv, recvOffsets, Nccl.DataType.FLOAT32, streams);
            float[] got0 = new float[8];
            float[] got1 = new float[8];
            d0.synchronize();
            d1.synchronize();
            d0.download(recv[0], got0, 8);
            d1.download(recv[1], got1, 8);
            assertArrayEquals(new float[] {0, 1, 100, 101, 102, 103, 0, 0}, got0, "rank 0: its own 2, then rank 1's 4");
            assertArrayEquals(new float[] {2, 3, 4, 104, 0, 0, 0, 0}, got1, "rank 1: rank 0's 3, then its own 1");
        }
    }

    /**
     * All-gather and reduce-scatter with a count per rank, each rank driven by its own thread as the sharded engine
     * drives them: uneven counts (one grouped broadcast or reduce per rank) and even ones (NCCL's own collectives) give
     * every rank every part in rank order, and each rank the sum of its part over both ranks.
     */
    @Tag("gpu")
    @Test
    void twoRanksGatherAndReduceScatterUnevenAndEvenParts() throws Exception {
        assumeTrue(Cudart.unavailableReason() == null, "no CUDA");
        assumeTrue(Nccl.findLibrary() != null, "no NCCL");
        assumeTrue(Cudart.get().deviceCount() >= 2, "one GPU here");
        for (long[] counts : new long[][] {{3, 5}, {4, 4}, {0, 6}}) {
            long[] offsets = {0, counts[0]};
            int total = (int) (counts[0] + counts[1]);
            try (Nccl nccl = Nccl.open(0, 1)) {
                float[][] gathered = new float[2][total];
                float[][] reduced = new float[2][];
                java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
                try {
                    List<java.util.concurrent.Future<?>> done = new java.util.ArrayList<>();
                    for (int r = 0; r < 2; r++) {
                        int rank = r;
                        done.add(pool.submit(() -> {
                            try (CudaDevice dev = CudaDevice.open(rank)) {
                                float[] own = new float[(int) Math.max(1, counts[rank])];
                                float[] all = new float[total];
                                for (int i = 0; i < own.length; i++) {
                                    own[i] = 100 * rank + i;
                                }
                                for (int i = 0; i < total; i++) {
                                    all[i] = 1000 * (rank + 1) + i; // each rank's contribution to every part
                                }
                                long ownBuf = dev.upload(own);
                                long gatherBuf = dev.zeros(4L * total);
                                long sumBuf = dev.upload(all);
                                long out = dev.zeros(4L * Math.max(1, counts[rank]));
                                nccl.allGather(rank, ownBuf, gatherBuf, offsets, counts, Nccl.DataType.FLOAT32, dev.stream());
                                nccl.reduceScatterSum(rank, sumBuf, out, offsets, counts, Nccl.DataType.FLOAT32, dev.stream());
                                dev.synchronize();
                                dev.download(gatherBuf, gathered[rank], total);
                                reduced[rank] = new float[(int) counts[rank]];
                                dev.download(out, reduced[rank], reduced[rank].length);
                            }
                            return null;
                        }));
                    }
                    for (var f : done) {
                        f.get(60, java.util.concurrent.TimeUnit.SECONDS);
                    }
                } finally {
                    pool.shutdownNow();
                }
                for (int r = 0; r < 2; r++) {
                    for (int i = 0; i < total; i++) {
                        int owner = i < counts[0] ? 0 : 1;
                        int at = (int) (i - offsets[owner]);
                        assertEquals(100 * owner + at, gathered[r][i], 0f, "counts " + java.util.Arrays.toString(counts) + ", rank " + r + " element " + i);
                    }
                    for (int i = 0; i < counts[r]; i++) {
                        int at = (int) (offsets[r] + i);
                        assertEquals(1000 + at + 2000 + at, reduced[r][i], 0f, "rank " + r + " sum " + i);
                    }
                }
            }
        }
    }
}
