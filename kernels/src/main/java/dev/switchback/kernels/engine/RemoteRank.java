package dev.switchback.kernels.engine;

import java.util.List;
import java.util.Map;

/**
 * A rank of a {@link ShardedCudaEngine} that runs in another process, on this host or another (e.g. a shard worker
 * reached over gRPC): it holds the dense weights and its share of the experts on its own GPU and meets the other ranks
 * in NCCL's exchanges. The sharded engine keeps the sequences' bookkeeping and sends each call's inputs.
 */
public interface RemoteRank extends AutoCloseable {
    /**
     * Reads the model and opens the GPU on that rank's host, before any rank joins the group: a rank that cannot serve
     * says so here, while no other rank waits for it in the NCCL join.
     */
    void load();

    /**
     * Joins NCCL group {@code ncclId} as rank {@code rank} of {@code world} and loads the model with the experts of
     * {@code held} (per block, (expert, share, copies) triples; null for dense blocks); returns once loaded. Every
     * rank of the group joins at the same time.
     */
    void open(byte[] ncclId, int world, int rank, int[][] held, CudaEngine.Options options);

    /** {@link CudaEngine#forwardShard} on that rank. */
    float[][] forward(List<CudaEngine.RankStep> own, int[] tokensPerRank, int[] allIds, int[] allPrev);

    /** {@link CudaEngine#decodeShard} on that rank. */
    int[] decode(List<CudaEngine.RankStep> own, List<CudaEngine.Sampling> sampling, int[] tokensPerRank, int[] allIds,
            int[] allPrev);

    /** The rank's GPU, e.g. {@code host:9300/cuda:1}, once open. */
    String deviceName();

    /** Device memory in use by that rank, by device name. */
    Map<String, Long> deviceBytes();

    @Override
    void close();
}
