package dev.switchback.cli;

import dev.switchback.kernels.cuda.Cudart;
import dev.switchback.kernels.cuda.Nccl;
import dev.switchback.server.cluster.ShardWorker;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code switchback shard-worker}: serves one GPU rank of a model sharded over several processes or hosts
 * ({@link ShardWorker}); the sharded engine's first process opens the rank and drives it over gRPC.
 */
@Command(name = "shard-worker", mixinStandardHelpOptions = true,
        description = "Serve one GPU rank of a model sharded over several processes or hosts (gRPC; the first process drives it).")
public final class ShardWorkerCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--listen", defaultValue = "0.0.0.0:9300", paramLabel = "HOST:PORT",
            description = "Where to accept the first process's calls (default: ${DEFAULT-VALUE}).")
    String listen;

    @Override
    public Integer call() throws Exception {
        HostPort at = HostPort.parse("--listen", listen, 0);
        String why = Cudart.unavailableReason();
        if (why != null) {
            throw new IllegalStateException("shard-worker: " + why);
        }
        if (Nccl.findLibrary() == null) {
            throw new IllegalStateException("shard-worker: NCCL not found (libnccl.so.2)");
        }
        PrintWriter out = spec.commandLine().getOut();
        try (ShardWorker worker = ShardWorker.start(at.address())) {
            out.printf("shard worker listening on %s:%d (%d CUDA device(s))%n", at.host(), worker.port(),
                    Cudart.get().deviceCount());
            out.flush();
            worker.awaitTermination();
        }
        return 0;
    }
}
