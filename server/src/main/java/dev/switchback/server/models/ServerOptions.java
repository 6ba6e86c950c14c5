package dev.switchback.server.models;

import dev.switchback.kernels.engine.Engine;
import dev.switchback.kernels.kv.BlockPool;
import dev.switchback.kernels.kv.KvFormat;
import dev.switchback.server.scheduler.SchedulerOptions;
import dev.switchback.store.model.ModelConfig;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;

/**
 * Settings of the engine side of the server.
 *
 * @param models models to load at start-up ({@link EngineGenerationService#ready()} waits for them)
 * @param maxWaiting requests queued per model before new ones are refused (RESOURCE_EXHAUSTED)
 * @param maxRunning sequences in a model's running batch
 * @param tokenBudget most tokens per forward step; at least {@code maxRunning}
 * @param prefillChunk most prompt tokens of one sequence per step
 * @param kvBlockSize token positions per KV block
 * @param kvBlocks KV blocks per model; 0 to size the pool from {@code kvCacheBytes}
 * @param kvCacheBytes KV memory per model when {@code kvBlocks} is 0
 * @param prefixCacheBytes KV bytes per model the prefix cache may keep; they come out of the KV pool; 0 turns it off
 * @param loadedModelsBytes weight bytes of all loaded models together; idle models are evicted beyond it
 * @param defaultMaxTokens max tokens for requests that give none (for the protocol layers, which build the requests)
 * @param requestTimeout deadline of requests that bring none; {@link Duration#ZERO} for none
 * @param loadOnDemand whether a request for a model in the store that is not loaded (never loaded, or evicted)
 *     starts loading it (the request itself is refused with UNAVAILABLE, to be retried); an unloaded model stays
 *     unloaded until {@code load}
 * @param device where native models run: {@code cpu}, {@code cuda:N}, or {@code cuda:N,M,...} for experts sharded over
 *     those GPUs (ONNX exports always run on the CPU)
 * @param kvFormat how the engines store keys and values: F32, or BF16 for twice the positions in {@code kvCacheBytes}
 *     (on the CPU and on the GPU; ONNX exports keep their own cache)
 * @param expertPlacement how experts are placed over several GPUs: null for contiguous shares, or a
 *     {@link PlacementOption} (round-robin, or load / static-balanced planned on a calibration text)
 * @param shardWorkers further ranks of a sharded model on GPUs of other processes or hosts ({@code switchback
 *     shard-worker}), after the GPUs of {@code device}; each loads the model from the same folder path on its host
 */
public record ServerOptions(
        List<String> models,
        int maxWaiting,
        int maxRunning,
        int tokenBudget,
        int prefillChunk,
        int kvBlockSize,
        int kvBlocks,
        long kvCacheBytes,
        long prefixCacheBytes,
        long loadedModelsBytes,
        int defaultMaxTokens,
        Duration requestTimeout,
        boolean loadOnDemand,
        String device,
        KvFormat kvFormat,
        PlacementOption expertPlacement,
        List<ShardWorkerAddress> shardWorkers) {

    private static final long MIB = 1L << 20;

    public ServerOptions {
        if (models == null) {
            throw new IllegalArgumentException("models must not be null (use an empty list for none)");
        }
        if (new HashSet<>(models).size() != models.size() || models.stream().anyMatch(m -> m == null || m.isBlank())) {
            throw new IllegalArgumentException("models must be distinct non-blank names, got " + models);
        }
        models = List.copyOf(models);
        atLeast("maxWaiting", maxWaiting, 1);
        atLeast("maxRunning", maxRunning, 1);
        if (tokenBudget < maxRunning) {
            throw new IllegalArgumentException("tokenBudget must be >= maxRunning (" + maxRunning + "), got " + tokenBudget);
        }
        atLeast("prefillChunk", prefillChunk, 1);
        atLeast("kvBlockSize", kvBlockSize, 1);
        atLeast("kvBlocks", kvBlocks, 0);
        if (kvCacheBytes < 0 || (kvBlocks == 0 && kvCacheBytes == 0)) {
            throw new IllegalArgumentException("kvCacheBytes must be > 0 when kvBlocks is 0 (and never negative), got "
                    + kvCacheBytes);
        }
        if (prefixCacheBytes < 0) {
            throw new IllegalArgumentException("prefixCacheBytes must be >= 0, got " + prefixCacheBytes);
        }
        if (loadedModelsBytes < 1) {
            throw new IllegalArgumentException("loadedModelsBytes must be > 0, got " + loadedModelsBytes);
        }
        atLeast("defaultMaxTokens", defaultMaxTokens, 1);
        if (device == null || !(device.equals("cpu") || device.matches("cuda:\\d+(,\\d+)*"))) {
            throw new IllegalArgumentException("device must be cpu, cuda:N or cuda:N,M,..., got " + device);
        }
        if (kvFormat == null) {
            throw new IllegalArgumentException("kvFormat must not be null");
        }
        if (shardWorkers == null) {
            throw new IllegalArgumentException("shardWorkers must not be null (use an empty list for none)");
        }
        shardWorkers = List.copyOf(shardWorkers);
        if (!shardWorkers.isEmpty() && !device.startsWith("cuda")) {
            throw new IllegalArgumentException("shardWorkers hold GPU ranks of a sharded model; device is " + device
                    + " (use cuda:N)");
        }
        if (expertPlacement != null && !device.contains(",") && shardWorkers.isEmpty()) {
            throw new IllegalArgumentException("expertPlacement " + expertPlacement.strategy().flag() + " places experts over"
                    + " several GPUs; device is " + device);
        }
        if (requestTimeout == null || requestTimeout.isNegative()) {
            throw new IllegalArgumentException("requestTimeout must be >= 0 (0 for none), got " + requestTimeout);
        }
    }

    /**
     * No start-up models; 256 waiting and 16 running per model, 512 tokens a step in chunks of up to 256; 16-token
     * KV blocks, 512 MiB of KV and 128 MiB of it for the prefix cache per model; 8 GiB of loaded weights;
     * 256 max tokens; a 10-minute deadline; load on demand.
     */
    public static ServerOptions defaults() {
        return new ServerOptions(List.of(), 256, 16, 512, 256, 16, 0, 512 * MIB, 128 * MIB, 8192 * MIB, 256,
                Duration.ofMinutes(10), true, "cpu", KvFormat.F32, null, List.of());
    }

    public ServerOptions withModels(List<String> names) {
        return new ServerOptions(names, maxWaiting, maxRunning, tokenBudget, prefillChunk, kvBlockSize, kvBlocks,
                kvCacheBytes, prefixCacheBytes, loadedModelsBytes, defaultMaxTokens, requestTimeout, loadOnDemand,
                device, kvFormat, expertPlacement, shardWorkers);
    }

    /** Queue and batch limits together, since {@code tokenBudget} must cover {@code maxRunning}. */
    public ServerOptions withBatching(int waiting, int runningSequences, int budget, int chunk) {
        return new ServerOptions(models, waiting, runningSequences, budget, chunk, kvBlockSize, kvBlocks, kvCacheBytes,
                prefixCacheBytes, loadedModelsBytes, defaultMaxTokens, requestTimeout, loadOnDemand,
                device, kvFormat, expertPlacement, shardWorkers);
    }

    /** A fixed KV pool per model: {@code blocks} blocks of {@code blockSize} positions. */
    public ServerOptions withKvBlocks(int blockSize, int blocks) {
        return new ServerOptions(models, maxWaiting, maxRunning, tokenBudget, prefillChunk, blockSize, blocks, kvCacheBytes,
                prefixCacheBytes, loadedModelsBytes, defaultMaxTokens, requestTimeout, loadOnDemand,
                device, kvFormat, expertPlacement, shardWorkers);
    }

    /** A KV pool per model sized by memory. */
    public ServerOptions withKvCacheBytes(long bytes) {
        return new ServerOptions(models, maxWaiting, maxRunning, tokenBudget, prefillChunk, kvBlockSize, 0, bytes,
                prefixCacheBytes, loadedModelsBytes, defaultMaxTokens, requestTimeout, loadOnDemand,
                device, kvFormat, expertPlacement, shardWorkers);
    }

    public ServerOptions withPrefixCacheBytes(long bytes) {
        return new ServerOptions(models, maxWaiting, maxRunning, tokenBudget, prefillChunk, kvBlockSize, kvBlocks,
                kvCacheBytes, bytes, loadedModelsBytes, defaultMaxTokens, requestTimeout, loadOnDemand,
                device, kvFormat, expertPlacement, shardWorkers);
    }

    public ServerOptions withLoadedModelsBytes(long bytes) {
        return new ServerOptions(models, maxWaiting, maxRunning, tokenBudget, prefillChunk, kvBlockSize, kvBlocks,
                kvCacheBytes, prefixCacheBytes, bytes, defaultMaxTokens, requestTimeout, loadOnDemand,
                device, kvFormat, expertPlacement, shardWorkers);
    }

    public ServerOptions withDefaultMaxTokens(int n) {
        return new ServerOptions(models, maxWaiting, maxRunning, tokenBudget, prefillChunk, kvBlockSize, kvBlocks,
                kvCacheBytes, prefixCacheBytes, loadedModelsBytes, n, requestTimeout, loadOnDemand,
                device, kvFormat, expertPlacement, shardWorkers);
    }

    public ServerOptions withRequestTimeout(Duration timeout) {
        return new ServerOptions(models, maxWaiting, maxRunning, tokenBudget, prefillChunk, kvBlockSize, kvBlocks,
                kvCacheBytes, prefixCacheBytes, loadedModelsBytes, defaultMaxTokens, timeout, loadOnDemand,
                device, kvFormat, expertPlacement, shardWorkers);
    }

    public ServerOptions withLoadOnDemand(boolean on) {
        return new ServerOptions(models, maxWaiting, maxRunning, tokenBudget, prefillChunk, kvBlockSize, kvBlocks,
                kvCacheBytes, prefixCacheBytes, loadedModelsBytes, defaultMaxTokens, requestTimeout, on,
                device, kvFormat, expertPlacement, shardWorkers);
    }

    /** What each model's scheduler gets. */
    public SchedulerOptions scheduler() {
        return new SchedulerOptions(maxWaiting, maxRunning, tokenBudget, prefillChunk, prefixCacheBytes, requestTimeout);
    }

    /** KV blocks for a model: {@code kvBlocks}, or as many as {@code kvCacheBytes} holds (at least one). */
    public int kvBlocksFor(ModelConfig config) {
        if (kvBlocks > 0) {
            return kvBlocks;
        }
        int slots = config.architecture().passes() * config.layers();
        long blockBytes = BlockPool.blockBytes(kvBlockSize, slots, config.dModel(), kvFormat);
        return (int) Math.clamp(kvCacheBytes / blockBytes, 1, Integer.MAX_VALUE);
    }

    /** Keys and values stored as {@code format} (CPU and CUDA engines). */
    public ServerOptions withKvFormat(KvFormat format) {
        return new ServerOptions(models, maxWaiting, maxRunning, tokenBudget, prefillChunk, kvBlockSize, kvBlocks,
                kvCacheBytes, prefixCacheBytes, loadedModelsBytes, defaultMaxTokens, requestTimeout, loadOnDemand,
                device, format, expertPlacement, shardWorkers);
    }

    /** Experts over several GPUs placed as {@code placement} says (null: contiguous shares). */
    public ServerOptions withExpertPlacement(PlacementOption strategy) {
        return new ServerOptions(models, maxWaiting, maxRunning, tokenBudget, prefillChunk, kvBlockSize, kvBlocks,
                kvCacheBytes, prefixCacheBytes, loadedModelsBytes, defaultMaxTokens, requestTimeout, loadOnDemand,
                device, kvFormat, strategy, shardWorkers);
    }

    /** Sharded models also use these ranks on other processes' or hosts' GPUs (empty: none). */
    public ServerOptions withShardWorkers(List<ShardWorkerAddress> workers) {
        return new ServerOptions(models, maxWaiting, maxRunning, tokenBudget, prefillChunk, kvBlockSize, kvBlocks,
                kvCacheBytes, prefixCacheBytes, loadedModelsBytes, defaultMaxTokens, requestTimeout, loadOnDemand,
                device, kvFormat, expertPlacement, workers);
    }

    /** Native models run on {@code device}: {@code cpu} or {@code cuda:N}. */
    public ServerOptions withDevice(String device) {
        return new ServerOptions(models, maxWaiting, maxRunning, tokenBudget, prefillChunk, kvBlockSize, kvBlocks,
                kvCacheBytes, prefixCacheBytes, loadedModelsBytes, defaultMaxTokens, requestTimeout, loadOnDemand,
                device, kvFormat, expertPlacement, shardWorkers);
    }

    /** The (first) CUDA device ordinal of {@code cuda:N[,M,...]}, or −1 for the CPU. */
    public int cudaDevice() {
        return device.startsWith("cuda:") ? cudaDevices()[0] : -1;
    }

    /** The CUDA device ordinals of {@code cuda:N[,M,...]} (several: experts sharded over them); empty for the CPU. */
    public int[] cudaDevices() {
        if (!device.startsWith("cuda:")) {
            return new int[0];
        }
        return java.util.Arrays.stream(device.substring(5).split(",")).mapToInt(Integer::parseInt).toArray();
    }

    /** Whether CUDA models have their experts sharded (over several GPUs here, or with shard workers). */
    public boolean sharded() {
        return cudaDevices().length > 1 || !shardWorkers.isEmpty();
    }

    /**
     * A GPU rank served by {@code switchback shard-worker} at {@code target} ({@code HOST:PORT}) on its host's CUDA device
     * {@code gpu}.
     */
    public record ShardWorkerAddress(String target, int gpu) {
        public ShardWorkerAddress {
            if (target == null || !target.matches("[^\\s:@]+:\\d{1,5}") || !validPort(target) || gpu < 0) {
                throw new IllegalArgumentException("a shard worker is HOST:PORT@GPU, got '" + target + "@" + gpu + "'");
            }
        }

        private static boolean validPort(String target) {
            int port = Integer.parseInt(target.substring(target.lastIndexOf(':') + 1));
            return port >= 1 && port <= 65535;
        }

        /** {@code HOST:PORT@GPU}. */
        public static ShardWorkerAddress parse(String text) {
            int at = text.lastIndexOf('@');
            try {
                return new ShardWorkerAddress(text.substring(0, at), Integer.parseInt(text.substring(at + 1)));
            } catch (NumberFormatException | StringIndexOutOfBoundsException e) {
                throw new IllegalArgumentException("a shard worker is HOST:PORT@GPU, got '" + text + "'");
            }
        }
    }

    /** The engine settings for a model: weights as stored, this KV pool. */
    public Engine.Options engineFor(ModelConfig config) {
        return new Engine.Options(null, kvBlockSize, kvBlocksFor(config), maxRunning, kvFormat);
    }

    private static void atLeast(String field, int value, int min) {
        if (value < min) {
            throw new IllegalArgumentException(field + " must be >= " + min + ", got " + value);
        }
    }
}
