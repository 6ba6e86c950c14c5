package dev.switchback.cli;

import dev.switchback.kernels.cuda.CudaDevice;
import dev.switchback.kernels.cuda.Cudart;
import dev.switchback.kernels.cuda.Nccl;
import dev.switchback.server.cluster.NcclRendezvous;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code switchback bench nccl-group}: one rank of an NCCL group whose ranks are separate processes, on this host or
 * others, bootstrapped over gRPC ({@link NcclRendezvous}): rank 0 makes the group's id and serves it at
 * {@code --rendezvous}; every other rank fetches it from there. Each rank then checks the exchanges a sharded step makes
 * (all-gather and reduce-scatter, with uneven and with even parts, every element against its expected value) and times
 * them. Run one per GPU, e.g. {@code --rank 0 --gpu 0} and {@code --rank 1 --gpu 1} with the same
 * {@code --rendezvous HOST:PORT --world 2}.
 */
@Command(name = "nccl-group", mixinStandardHelpOptions = true,
        description = "One rank of an NCCL group across processes or hosts (bootstrapped over gRPC): checks and times the exchanges.")
public final class NcclGroupBench implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--rendezvous", required = true, paramLabel = "HOST:PORT",
            description = "Rank 0's gRPC rendezvous: where rank 0 listens and the other ranks connect.")
    String rendezvous;

    @Option(names = "--world", required = true, paramLabel = "N", description = "Ranks in the group.")
    int world;

    @Option(names = "--rank", required = true, paramLabel = "R", description = "This process's rank, 0 to N − 1 (0 hosts the rendezvous).")
    int rank;

    @Option(names = "--gpu", defaultValue = "0", paramLabel = "N", description = "CUDA device of this rank (default: ${DEFAULT-VALUE}).")
    int gpu;

    @Option(names = "--group", defaultValue = "switchback", paramLabel = "NAME", description = "Group name every rank must give (default: ${DEFAULT-VALUE}).")
    String group;

    @Option(names = "--timeout", defaultValue = "120", paramLabel = "SECONDS",
            description = "How long to wait for the rendezvous and the other ranks (default: ${DEFAULT-VALUE}).")
    int timeout;

    @Option(names = "--sizes", defaultValue = "32,512,2048", paramLabel = "KiB,...",
            description = "Bytes each rank contributes per all-gather and per reduce-scatter, in KiB (default: ${DEFAULT-VALUE}).")
    String sizes;

    @Option(names = "--iters", defaultValue = "200", paramLabel = "N", description = "Timed exchanges per size (default: ${DEFAULT-VALUE}).")
    int iters;

    @Override
    public Integer call() throws Exception {
        if (world < 2 || rank < 0 || rank >= world) {
            throw new IllegalArgumentException("--rank " + rank + " of --world " + world + ": need a group of 2 or more and 0 <= rank < world");
        }
        if (iters < 1 || timeout < 1) {
            throw new IllegalArgumentException("--iters and --timeout must be >= 1");
        }
        HostPort at = HostPort.parse("--rendezvous", rendezvous, 1);
        String why = Cudart.unavailableReason();
        if (why != null) {
            throw new IllegalStateException("bench nccl-group: " + why);
        }
        PrintWriter out = spec.commandLine().getOut();
        Duration wait = Duration.ofSeconds(timeout);
        NcclRendezvous.Host host = null;
        byte[] id;
        if (rank == 0) {
            id = Nccl.uniqueId();
            host = NcclRendezvous.host(at.address(), group, world, id);
            out.printf(Locale.ROOT, "rank 0: rendezvous for group '%s' of %d on port %d%n", group, world, host.port());
        } else {
            id = NcclRendezvous.join(rendezvous, group, world, rank, wait);
        }
        out.flush();
        try (CudaDevice dev = CudaDevice.open(gpu); Nccl nccl = Nccl.join(id, world, rank, gpu)) {
            if (host != null && !host.awaitJoined(wait)) {
                throw new IllegalStateException("ranks " + host.missing() + " never joined");
            }
            check(dev, nccl, false);
            check(dev, nccl, true);
            out.printf(Locale.ROOT, "rank %d of %d on %s, NCCL %d: all-gather and reduce-scatter checked (uneven and even parts)%n",
                    rank, world, dev.describe(), nccl.version());
            out.println("| bytes per rank | µs per all-gather + reduce-scatter |");
            out.println("|---:|---:|");
            for (int kib : BenchCommand.ints(sizes)) {
                if (kib < 1) {
                    throw new IllegalArgumentException("--sizes: each size must be >= 1 KiB, got " + kib);
                }
                long part = kib * 1024L / 4; // floats per rank
                long[] counts = new long[world];
                long[] offsets = new long[world];
                for (int q = 0; q < world; q++) {
                    counts[q] = part;
                    offsets[q] = q * part;
                }
                long all = dev.zeros(4 * part * world);
                long mine = dev.zeros(4 * part);
                for (int i = 0; i < iters + 5; i++) {
                    if (i == 5) {
                        dev.synchronize();
                    }
                    nccl.allGather(rank, mine, all, offsets, counts, Nccl.DataType.FLOAT32, dev.stream());
                    nccl.reduceScatterSum(rank, all, mine, offsets, counts, Nccl.DataType.FLOAT32, dev.stream());
                }
                long start = System.nanoTime();
                for (int i = 0; i < iters; i++) {
                    nccl.allGather(rank, mine, all, offsets, counts, Nccl.DataType.FLOAT32, dev.stream());
                    nccl.reduceScatterSum(rank, all, mine, offsets, counts, Nccl.DataType.FLOAT32, dev.stream());
                }
                dev.synchronize();
                out.printf(Locale.ROOT, "| %,d | %.1f |%n", 4 * part, (System.nanoTime() - start) / 1e3 / iters);
                out.flush();
            }
        } finally {
            if (host != null) {
                host.close();
            }
        }
        return 0;
    }

    /**
     * Rank q contributes counts[q] floats q·10⁶ + i; every rank must gather all of them in place. Then rank r's buffer
     * holds r + (j mod 13) at element j, and rank q must receive Σ_r (r + (j mod 13)) over its own part.
     */
    private void check(CudaDevice dev, Nccl nccl, boolean even) {
        long[] counts = new long[world];
        long[] offsets = new long[world];
        long total = 0;
        for (int q = 0; q < world; q++) {
            counts[q] = even ? 1024 : 1000 + 7L * q;
            offsets[q] = total;
            total += counts[q];
        }
        float[] own = new float[(int) counts[rank]];
        for (int i = 0; i < own.length; i++) {
            own[i] = rank * 1e6f + i;
        }
        long ownPtr = dev.upload(own);
        long all = dev.zeros(4 * total);
        nccl.allGather(rank, ownPtr, all, offsets, counts, Nccl.DataType.FLOAT32, dev.stream());
        dev.synchronize();
        float[] gathered = new float[(int) total];
        dev.download(all, gathered, gathered.length);
        for (int q = 0; q < world; q++) {
            for (int i = 0; i < counts[q]; i++) {
                float expected = q * 1e6f + i;
                if (gathered[(int) (offsets[q] + i)] != expected) {
                    throw new IllegalStateException("all-gather" + (even ? " (even)" : "") + ": rank " + rank + " got "
                            + gathered[(int) (offsets[q] + i)] + " for rank " + q + "'s element " + i + ", expected " + expected);
                }
            }
        }
        float[] mine = new float[(int) total];
        for (int j = 0; j < mine.length; j++) {
            mine[j] = rank + j % 13;
        }
        long buffer = dev.upload(mine);
        long result = dev.zeros(4 * counts[rank]);
        nccl.reduceScatterSum(rank, buffer, result, offsets, counts, Nccl.DataType.FLOAT32, dev.stream());
        dev.synchronize();
        float[] got = new float[(int) counts[rank]];
        dev.download(result, got, got.length);
        float ranksSum = world * (world - 1) / 2f;
        for (int i = 0; i < got.length; i++) {
            float expected = ranksSum + world * (float) ((offsets[rank] + i) % 13);
            if (got[i] != expected) {
                throw new IllegalStateException("reduce-scatter" + (even ? " (even)" : "") + ": rank " + rank + " got " + got[i]
                        + " at element " + i + ", expected " + expected);
            }
        }
    }
}
