package dev.switchback.cli;

import dev.switchback.kernels.cpu.Parallel;
import dev.switchback.kernels.cpu.ScalarKernels;
import dev.switchback.kernels.cpu.VectorKernels;
import dev.switchback.kernels.tensor.Matrix;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code switchback bench matmul}: the engine's matrix kernel alone, on weights that stream from memory as a model's
 * do (enough matrices to fill {@code --mb}, cycled) or stay in cache ({@code --mb 0}: one matrix), against the scalar
 * reference kernel on the same matrices in the same run.
 */
@Command(name = "matmul", mixinStandardHelpOptions = true,
        description = "The engine's matmul kernel (n tokens × a weight matrix) in GFLOP/s and weight GB/s, against the scalar reference.")
final class MatmulBench implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--tokens", defaultValue = "1,16", paramLabel = "N,...", description = "Tokens per product (default: ${DEFAULT-VALUE}).")
    String tokens;

    @Option(names = "--shapes", defaultValue = "2048x512,512x2048", paramLabel = "ROWSxCOLS,...",
            description = "Weight matrix shapes (default: ${DEFAULT-VALUE}, d_model 512's FFN).")
    String shapes;

    @Option(names = "--dtype", defaultValue = "F32,BF16", paramLabel = "F32|BF16,...")
    String dtypes;

    @Option(names = "--mb", defaultValue = "128", paramLabel = "MB",
            description = "Weights cycled per pass, in MB (default: ${DEFAULT-VALUE}, beyond any cache; 0: one matrix, cache-resident).")
    int mb;

    @Option(names = "--threads", defaultValue = "0", paramLabel = "N", description = "Kernel threads (0: one per processor).")
    int threads;

    @Option(names = "--repeats", defaultValue = "5", paramLabel = "N", description = "Timed passes; the best is shown (default: ${DEFAULT-VALUE}).")
    int repeats;

    @Override
    public Integer call() {
        List<Integer> ns = BenchCommand.ints(tokens);
        if (ns.stream().anyMatch(n -> n < 1) || mb < 0 || repeats < 1 || threads < 0) {
            throw new IllegalArgumentException("--tokens must be >= 1, --mb >= 0, --repeats >= 1 and --threads >= 0");
        }
        List<int[]> dims = new ArrayList<>();
        for (String s : shapes.split(",")) {
            String[] rc = s.strip().toLowerCase(Locale.ROOT).split("x");
            if (rc.length != 2) {
                throw new IllegalArgumentException("--shapes: '" + s.strip() + "' is not ROWSxCOLS");
            }
            int rows = Integer.parseInt(rc[0].strip());
            int cols = Integer.parseInt(rc[1].strip());
            if (rows < 1 || cols < 1) {
                throw new IllegalArgumentException("--shapes: '" + s.strip() + "' needs rows and columns >= 1");
            }
            dims.add(new int[] {rows, cols});
        }
        List<String> formats = List.of(dtypes.split(",")).stream().map(s -> s.strip().toUpperCase(Locale.ROOT)).toList();
        for (String f : formats) {
            if (!f.equals("F32") && !f.equals("BF16")) {
                throw new IllegalArgumentException("--dtype: F32 or BF16, got '" + f + "'");
            }
        }
        PrintWriter out = spec.commandLine().getOut();
        try (Parallel pool = new Parallel(threads > 0 ? threads : Runtime.getRuntime().availableProcessors())) {
            out.printf(Locale.ROOT, "%d kernel threads, %s, best of %d passes%n", pool.threads(),
                    mb == 0 ? "one cache-resident matrix" : mb + " MB of weights cycled per pass", repeats);
            out.println("| weights | rows × cols | tokens | matrices | GFLOP/s | weight GB/s | scalar GFLOP/s | ÷ scalar |");
            out.println("|---|---|---:|---:|---:|---:|---:|---:|");
            SplittableRandom random = new SplittableRandom(5);
            for (String f : formats) {
                for (int[] d : dims) {
                    long bytes = (long) d[0] * d[1] * (f.equals("F32") ? 4 : 2);
                    int count = mb == 0 ? 1 : (int) Math.max(2, Math.min(4096, (long) mb * 1024 * 1024 / bytes));
                    Matrix[] ws = new Matrix[count];
                    for (int i = 0; i < count; i++) {
                        float[] w = new float[d[0] * d[1]];
                        for (int j = 0; j < w.length; j++) {
                            w[j] = (float) (random.nextDouble() - 0.5);
                        }
                        ws[i] = f.equals("F32") ? Matrix.f32(w, d[0], d[1]) : Matrix.bf16(w, d[0], d[1]);
                    }
                    for (int n : ns) {
                        float[] x = new float[n * d[1]];
                        for (int j = 0; j < x.length; j++) {
                            x[j] = (float) (random.nextDouble() - 0.5);
                        }
                        float[] y = new float[n * d[0]];
                        for (Matrix w : ws) { // warm-up: compile, and page the matrices in
                            VectorKernels.matmul(x, n, w, y, pool);
                        }
                        double best = Double.MAX_VALUE;
                        for (int r = 0; r < repeats; r++) {
                            long start = System.nanoTime();
                            for (Matrix w : ws) {
                                VectorKernels.matmul(x, n, w, y, pool);
                            }
                            best = Math.min(best, (System.nanoTime() - start) / 1e9);
                        }
                        long scalarStart = System.nanoTime();
                        int scalarMatrices = Math.min(count, 4);
                        for (int i = 0; i < scalarMatrices; i++) {
                            ScalarKernels.matmul(x, n, ws[i], y);
                        }
                        double scalarSeconds = (System.nanoTime() - scalarStart) / 1e9;
                        double flop = 2.0 * n * d[0] * d[1];
                        double gflops = flop * count / best / 1e9;
                        double scalar = flop * scalarMatrices / scalarSeconds / 1e9;
                        out.printf(Locale.ROOT, "| %s | %d × %d | %d | %d | %s | %s | %s | %.1f× |%n", f, d[0], d[1], n, count,
                                rate(gflops), rate(bytes * count / best / 1e9), rate(scalar), gflops / scalar);
                        out.flush();
                    }
                }
            }
        }
        return 0;
    }

    /** A rate with three significant digits below 10, one decimal above. */
    private static String rate(double value) {
        return String.format(Locale.ROOT, value >= 10 ? "%.1f" : "%.3g", value);
    }
}
