package dev.switchback.server.cluster;

import com.google.protobuf.ByteString;
import dev.switchback.kernels.cuda.CudaDevice;
import dev.switchback.kernels.cuda.Nccl;
import dev.switchback.kernels.engine.CudaEngine;
import dev.switchback.kernels.engine.ModelWeights;
import dev.switchback.kernels.engine.TensorSource;
import dev.switchback.kernels.engine.WeightFormat;
import dev.switchback.kernels.kv.KvFormat;
import dev.switchback.server.grpc.proto.CloseShardReply;
import dev.switchback.server.grpc.proto.CloseShardRequest;
import dev.switchback.server.grpc.proto.HeldExperts;
import dev.switchback.server.grpc.proto.LoadShardReply;
import dev.switchback.server.grpc.proto.LoadShardRequest;
import dev.switchback.server.grpc.proto.OpenShardReply;
import dev.switchback.server.grpc.proto.OpenShardRequest;
import dev.switchback.server.grpc.proto.OwnStep;
import dev.switchback.server.grpc.proto.ShardStepReply;
import dev.switchback.server.grpc.proto.ShardStepRequest;
import dev.switchback.server.grpc.proto.ShardWorkerGrpc;
import dev.switchback.store.ModelStoreException;
import dev.switchback.store.OpenedModel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * {@code switchback shard-worker}: serves one rank of a model sharded over the GPUs of several processes or hosts
 * ({@code switchback.v1.ShardWorker}). The sharded engine's first process opens the rank (this worker joins the NCCL group
 * and loads the model from its own copy of the folder, checksums verified) and then sends each call's inputs. Every
 * CUDA call runs on one thread of the worker's own, as CUDA's current device is per thread. One rank at a time.
 */
public final class ShardWorker implements AutoCloseable {
    private final ExecutorService cuda = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "shard-worker-cuda");
        t.setDaemon(true);
        return t;
    });
    private final Server server;
    private CudaDevice device;
    private Nccl nccl;
    private CudaEngine engine;
    /** What Load read and opened, for the Open that follows: the model's folder and GPU, its weights. */
    private String loadedDir;
    private int loadedGpu = -1;
    private ModelWeights loaded;

    private ShardWorker(InetSocketAddress address) throws IOException {
        server = NettyServerBuilder.forAddress(address).maxInboundMessageSize(256 << 20).addService(new Service()).build().start();
    }

    /** Starts a worker listening on {@code address} (port 0: any free one). */
    public static ShardWorker start(InetSocketAddress address) throws IOException {
        return new ShardWorker(address);
    }

    public int port() {
        return server.getPort();
    }

    /** Blocks until the worker is shut down. */
    public void awaitTermination() throws InterruptedException {
        server.awaitTermination();
    }

    private <T> T onCuda(Callable<T> task) throws Exception {
        try {
            return cuda.submit(task).get();
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception x ? x : new IllegalStateException(e.getCause());
        }
    }

    /** Reads the model at {@code dir} (checksums verified) and opens {@code gpu}, unless they are what is loaded. */
    private void loadOnCuda(String dir, int gpu) throws java.io.IOException {
        if (dir.equals(loadedDir) && gpu == loadedGpu) {
            return;
        }
        closeRank();
        try (OpenedModel opened = OpenedModel.open(Path.of(dir))) {
            loaded = ModelWeights.load(opened.config(), TensorSource.of(opened), WeightFormat.BF16);
        }
        device = CudaDevice.open(gpu);
        loadedDir = dir;
        loadedGpu = gpu;
    }

    private final class Service extends ShardWorkerGrpc.ShardWorkerImplBase {
        @Override
        public void load(LoadShardRequest request, StreamObserver<LoadShardReply> reply) {
            answer(reply, () -> onCuda(() -> {
                if (engine != null) {
                    throw Status.FAILED_PRECONDITION.withDescription("this worker already serves a rank; close it first").asRuntimeException();
                }
                loadOnCuda(request.getModelDir(), request.getGpu());
                return LoadShardReply.newBuilder().setDevice(device.name()).build();
            }));
        }

        @Override
        public void open(OpenShardRequest request, StreamObserver<OpenShardReply> reply) {
            answer(reply, () -> onCuda(() -> {
                if (engine != null) {
                    throw Status.FAILED_PRECONDITION.withDescription("this worker already serves a rank; close it first").asRuntimeException();
                }
                int[][] held = new int[request.getHeldCount()][];
                for (int l = 0; l < held.length; l++) {
                    HeldExperts h = request.getHeld(l);
                    held[l] = h.getTriplesCount() == 0 ? null : h.getTriplesList().stream().mapToInt(Integer::intValue).toArray();
                }
                CudaEngine.Options options = new CudaEngine.Options(request.getKvBlockSize(), request.getKvBlocks(),
                        request.getMaxSequences(), request.getMaxTokens(), request.getGraphs(), request.getGemmMinTokens(),
                        request.getExpertGemm(), request.getKvBf16() ? KvFormat.BF16 : KvFormat.F32);
                loadOnCuda(request.getModelDir(), request.getGpu());
                try {
                    nccl = Nccl.join(request.getNcclUniqueId().toByteArray(), request.getWorld(), request.getRank(), request.getGpu());
                    engine = CudaEngine.rankOfGroup(loaded, device, options, nccl, request.getRank(), held);
                } catch (RuntimeException e) {
                    closeRank();
                    throw e;
                }
                loaded = null; // the engine holds the weights on the device now
                return OpenShardReply.newBuilder().setDevice(device.name()).setMemoryBytes(device.allocatedBytes()).build();
            }));
        }

        @Override
        public void step(ShardStepRequest request, StreamObserver<ShardStepReply> reply) {
            answer(reply, () -> onCuda(() -> {
                if (engine == null) {
                    throw Status.FAILED_PRECONDITION.withDescription("no rank is open on this worker").asRuntimeException();
                }
                List<CudaEngine.RankStep> own = new ArrayList<>();
                List<CudaEngine.Sampling> sampling = new ArrayList<>();
                for (OwnStep s : request.getOwnList()) {
                    own.add(new CudaEngine.RankStep(ints(s.getTokensList()), s.getStart(), ints(s.getBlocksList()), s.getPrevious()));
                    sampling.add(new CudaEngine.Sampling(s.getTemperature(), s.getTopP(), s.getSeed()));
                }
                int[] perRank = ints(request.getTokensPerRankList());
                int[] ids = ints(request.getAllIdsList());
                int[] prev = ints(request.getAllPrevList());
                ShardStepReply.Builder out = ShardStepReply.newBuilder();
                if (request.getDecode()) {
                    for (int t : engine.decodeShard(own, sampling, perRank, ids, prev)) {
                        out.addSampled(t);
                    }
                } else {
                    float[][] rows = engine.forwardShard(own, perRank, ids, prev);
                    int vocab = engine.config().vocabSize();
                    ByteBuffer bytes = ByteBuffer.allocate(4 * vocab * rows.length).order(ByteOrder.LITTLE_ENDIAN);
                    for (float[] row : rows) {
                        bytes.asFloatBuffer().put(row);
                        bytes.position(bytes.position() + 4 * vocab);
                    }
                    out.setLogits(ByteString.copyFrom(bytes.flip()));
                }
                return out.build();
            }));
        }

        @Override
        public void close(CloseShardRequest request, StreamObserver<CloseShardReply> reply) {
            answer(reply, () -> onCuda(() -> {
                closeRank();
                return CloseShardReply.getDefaultInstance();
            }));
        }
    }

    private static int[] ints(List<Integer> values) {
        return values.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Runs {@code work} and answers with its value, or with a status naming what went wrong (never a bare trace). */
    private static <T> void answer(StreamObserver<T> reply, Callable<T> work) {
        T value;
        try {
            value = work.call();
        } catch (io.grpc.StatusRuntimeException e) {
            reply.onError(e);
            return;
        } catch (IllegalArgumentException e) {
            reply.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
            return;
        } catch (ModelStoreException e) {
            // The model folder is missing, partly written or altered on the worker's host: the store says which.
            reply.onError(Status.FAILED_PRECONDITION.withDescription(e.getMessage()).asRuntimeException());
            return;
        } catch (Exception e) {
            reply.onError(Status.INTERNAL.withDescription(e.getClass().getSimpleName() + ": " + e.getMessage()).asRuntimeException());
            return;
        }
        reply.onNext(value);
        reply.onCompleted();
    }

    private void closeRank() {
        loaded = null;
        loadedDir = null;
        loadedGpu = -1;
        if (engine != null) {
            engine.close();
            engine = null;
        }
        if (device != null) {
            device.close();
            device = null;
        }
        if (nccl != null) {
            nccl.close();
            nccl = null;
        }
    }

    @Override
    public void close() {
        server.shutdownNow();
        try {
            onCuda(() -> {
                closeRank();
                return null;
            });
        } catch (Exception e) {
            throw new IllegalStateException("closing the shard worker's rank failed", e);
        } finally {
            cuda.shutdown();
        }
    }
}
