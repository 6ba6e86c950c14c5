package dev.switchback.cli;

import dev.switchback.kernels.cuda.CudaDevice;
import dev.switchback.kernels.cuda.Cudart;
import dev.switchback.kernels.cuda.Nccl;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code switchback bench nccl}: time of an NCCL all-to-all among this host's GPUs (in-process communicators), each
 * rank sending an equal share of {@code --sizes} bytes to every rank: what an expert-parallel step pays to send its
 * tokens' activations to the devices that hold their experts, and again to bring the results back.
 */
@Command(name = "nccl", mixinStandardHelpOptions = true,
        description = "NCCL all-to-all time and bandwidth among this host's GPUs (the expert-parallel exchange).")
public final class NcclBench implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--gpus", paramLabel = "N,...", description = "CUDA devices, one rank each (default: all).")
    String gpus;

    @Option(names = "--sizes", defaultValue = "32,256,2048,16384", paramLabel = "KiB,...",
            description = "Bytes each rank sends per all-to-all, in KiB (default: ${DEFAULT-VALUE}).")
    String sizes;

    @Option(names = "--iters", defaultValue = "50", paramLabel = "N", description = "Timed exchanges per size (default: ${DEFAULT-VALUE}).")
    int iters;

    public static void main(String[] args) {
        System.exit(new CommandLine(new NcclBench()).setExecutionExceptionHandler(new Main.UserErrors()).execute(args));
    }

    @Override
    public Integer call() {
        if (iters < 1) {
            throw new IllegalArgumentException("--iters must be >= 1, got " + iters);
        }
        List<Long> kib = new ArrayList<>();
        for (int s : BenchCommand.ints(sizes)) {
            if (s < 1) {
                throw new IllegalArgumentException("--sizes: each size must be >= 1 KiB, got " + s);
            }
            kib.add((long) s);
        }
        String why = Cudart.unavailableReason();
        if (why != null) {
            throw new IllegalStateException("bench nccl: " + why);
        }
        int[] devices = gpus != null ? BenchCommand.ints(gpus).stream().mapToInt(Integer::intValue).toArray()
                : java.util.stream.IntStream.range(0, Cudart.get().deviceCount()).toArray();
        PrintWriter out = spec.commandLine().getOut();
        List<CudaDevice> devs = new ArrayList<>();
        try (Nccl nccl = Nccl.open(devices)) {
            for (int d : devices) {
                devs.add(CudaDevice.open(d));
            }
            int n = devices.length;
            out.printf(Locale.ROOT, "%d rank(s) on %s, NCCL %d%n", n, devs.stream().map(CudaDevice::describe).toList(), nccl.version());
            out.println("| bytes per rank | µs per all-to-all | per-rank bandwidth to peers (GB/s) |");
            out.println("|---:|---:|---:|");
            for (long k : kib) {
                long bytes = k * 1024;
                long perPeer = bytes / 2 / n; // BF16 elements per peer
                long[] send = new long[n];
                long[] recv = new long[n];
                long[] streams = new long[n];
                long[][] counts = new long[n][n];
                long[][] offsets = new long[n][n];
                for (int r = 0; r < n; r++) {
                    send[r] = devs.get(r).zeros(bytes);
                    recv[r] = devs.get(r).zeros(bytes);
                    streams[r] = devs.get(r).stream();
                    for (int p = 0; p < n; p++) {
                        counts[r][p] = perPeer;
                        offsets[r][p] = p * perPeer;
                    }
                }
                for (int i = 0; i < 5; i++) {
                    nccl.allToAll(send, offsets, counts, recv, offsets, Nccl.DataType.BFLOAT16, streams);
                }
                devs.forEach(CudaDevice::synchronize);
                long start = System.nanoTime();
                for (int i = 0; i < iters; i++) {
                    nccl.allToAll(send, offsets, counts, recv, offsets, Nccl.DataType.BFLOAT16, streams);
                }
                devs.forEach(CudaDevice::synchronize);
                double seconds = (System.nanoTime() - start) / 1e9 / iters;
                double toPeers = 2.0 * perPeer * (n - 1);
                out.printf(Locale.ROOT, "| %,d | %.1f | %s |%n", bytes, seconds * 1e6,
                        n == 1 ? "–" : String.format(Locale.ROOT, "%.1f", toPeers / seconds / 1e9));
                out.flush();
            }
        } finally {
            devs.forEach(CudaDevice::close);
        }
        return 0;
    }
}
