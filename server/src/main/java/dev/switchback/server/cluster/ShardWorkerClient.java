package dev.switchback.server.cluster;

import com.google.protobuf.ByteString;
import dev.switchback.kernels.engine.CudaEngine;
import dev.switchback.kernels.engine.RemoteRank;
import dev.switchback.kernels.kv.KvFormat;
import dev.switchback.server.grpc.proto.CloseShardRequest;
import dev.switchback.server.grpc.proto.HeldExperts;
import dev.switchback.server.grpc.proto.LoadShardRequest;
import dev.switchback.server.grpc.proto.OpenShardReply;
import dev.switchback.server.grpc.proto.OpenShardRequest;
import dev.switchback.server.grpc.proto.OwnStep;
import dev.switchback.server.grpc.proto.ShardStepReply;
import dev.switchback.server.grpc.proto.ShardStepRequest;
import dev.switchback.server.grpc.proto.ShardWorkerGrpc;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A rank of a sharded model served by a {@link ShardWorker} in another process or on another host, reached over gRPC:
 * what {@code ShardedCudaEngine} drives as a {@link RemoteRank}. {@code modelDir} is the model's folder as the worker's
 * host sees it.
 */
public final class ShardWorkerClient implements RemoteRank {
    private final String target;
    private final int gpu;
    private final String modelDir;
    private final ManagedChannel channel;
    private final ShardWorkerGrpc.ShardWorkerBlockingStub stub;
    private String device;
    private long deviceBytes;

    public ShardWorkerClient(String target, int gpu, String modelDir) {
        this.target = target;
        this.gpu = gpu;
        this.modelDir = modelDir;
        this.channel = NettyChannelBuilder.forTarget(target).usePlaintext().maxInboundMessageSize(256 << 20).build();
        this.stub = ShardWorkerGrpc.newBlockingStub(channel);
    }

    private <T> T call(String what, Supplier<T> rpc) {
        try {
            return rpc.get();
        } catch (StatusRuntimeException e) {
            throw new IllegalStateException("shard worker at " + target + " (" + what + "): " + e.getStatus().getCode()
                    + (e.getStatus().getDescription() != null ? ": " + e.getStatus().getDescription() : ""), e);
        }
    }

    @Override
    public void load() {
        device = call("load " + modelDir + " on cuda:" + gpu, () -> stub.load(LoadShardRequest.newBuilder().setModelDir(modelDir)
                .setGpu(gpu).build())).getDevice();
    }

    @Override
    public void open(byte[] ncclId, int world, int rank, int[][] held, CudaEngine.Options options) {
        OpenShardRequest.Builder request = OpenShardRequest.newBuilder().setModelDir(modelDir).setGpu(gpu).setWorld(world)
                .setRank(rank).setNcclUniqueId(ByteString.copyFrom(ncclId)).setKvBlockSize(options.kvBlockSize())
                .setKvBlocks(options.kvBlocks()).setMaxSequences(options.maxSequences()).setMaxTokens(options.maxTokens())
                .setGraphs(options.graphs()).setGemmMinTokens(options.gemmMinTokens())
                .setExpertGemm(options.expertGemm())
                .setKvBf16(options.kvFormat() == KvFormat.BF16);
        for (int[] h : held) {
            HeldExperts.Builder b = HeldExperts.newBuilder();
            if (h != null) {
                for (int v : h) {
                    b.addTriples(v);
                }
            }
            request.addHeld(b);
        }
        OpenShardReply reply = call("open rank " + rank, () -> stub.open(request.build()));
        device = reply.getDevice();
        deviceBytes = reply.getMemoryBytes();
    }

    private static ShardStepRequest request(boolean decode, List<CudaEngine.RankStep> own, List<CudaEngine.Sampling> sampling,
            int[] tokensPerRank, int[] allIds, int[] allPrev) {
        ShardStepRequest.Builder b = ShardStepRequest.newBuilder().setDecode(decode);
        for (int t : tokensPerRank) {
            b.addTokensPerRank(t);
        }
        for (int t : allIds) {
            b.addAllIds(t);
        }
        for (int t : allPrev) {
            b.addAllPrev(t);
        }
        for (int i = 0; i < own.size(); i++) {
            CudaEngine.RankStep s = own.get(i);
            CudaEngine.Sampling p = sampling == null ? CudaEngine.Sampling.GREEDY : sampling.get(i);
            OwnStep.Builder o = OwnStep.newBuilder().setStart(s.start()).setPrevious(s.previous()).setTemperature(p.temperature())
                    .setTopP(p.topP()).setSeed(p.seed());
            for (int t : s.tokens()) {
                o.addTokens(t);
            }
            for (int block : s.blocks()) {
                o.addBlocks(block);
            }
            b.addOwn(o);
        }
        return b.build();
    }

    @Override
    public float[][] forward(List<CudaEngine.RankStep> own, int[] tokensPerRank, int[] allIds, int[] allPrev) {
        ShardStepReply reply = call("forward", () -> stub.step(request(false, own, null, tokensPerRank, allIds, allPrev)));
        float[][] rows = new float[own.size()][];
        if (own.isEmpty()) {
            return rows;
        }
        ByteBuffer bytes = reply.getLogits().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        int vocab = bytes.remaining() / 4 / own.size();
        for (int i = 0; i < rows.length; i++) {
            rows[i] = new float[vocab];
            bytes.asFloatBuffer().get(rows[i]);
            bytes.position(bytes.position() + 4 * vocab);
        }
        return rows;
    }

    @Override
    public int[] decode(List<CudaEngine.RankStep> own, List<CudaEngine.Sampling> sampling, int[] tokensPerRank, int[] allIds,
            int[] allPrev) {
        ShardStepReply reply = call("decode", () -> stub.step(request(true, own, sampling, tokensPerRank, allIds, allPrev)));
        return reply.getSampledList().stream().mapToInt(Integer::intValue).toArray();
    }

    @Override
    public String deviceName() {
        return target + "/" + device;
    }

    @Override
    public Map<String, Long> deviceBytes() {
        return Map.of(deviceName(), deviceBytes);
    }

    @Override
    public void close() {
        try {
            if (device != null) {
                call("close", () -> stub.close(CloseShardRequest.getDefaultInstance()));
            }
        } finally {
            channel.shutdownNow();
        }
    }
}
