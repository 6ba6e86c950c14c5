package dev.switchback.server.models;

import dev.switchback.kernels.cpu.Parallel;
import dev.switchback.kernels.engine.Engine;
import dev.switchback.kernels.engine.CudaEngine;
import dev.switchback.kernels.engine.ShardedCudaEngine;
import dev.switchback.kernels.engine.StepEngine;
import dev.switchback.kernels.engine.WeightFormat;
import dev.switchback.server.generation.GenerationException;
import dev.switchback.server.generation.GenerationService.ModelCard;
import dev.switchback.server.metrics.ModelMetrics;
import dev.switchback.server.metrics.ServingMetrics;
import dev.switchback.server.onnx.OnnxEngine;
import dev.switchback.server.scheduler.Scheduler;
import dev.switchback.store.ModelRef;
import dev.switchback.store.ModelStore;
import dev.switchback.store.OpenedModel;
import dev.switchback.store.model.Architecture;
import dev.switchback.store.model.ModelConfig;
import dev.switchback.store.tokenizer.BpeTokenizer;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A model in memory and serving: its engine (native, or ONNX Runtime for an ONNX export), tokenizer and scheduler. Pinned while it has requests in flight, so
 * the loaded-models cache never evicts a busy model.
 */
final class LoadedModel {
    private static final System.Logger LOG = System.getLogger(LoadedModel.class.getName());
    final ModelRef ref;
    final ModelCard card;
    final Scheduler scheduler;
    final long weightBytes;
    private final AtomicInteger pins = new AtomicInteger();

    private LoadedModel(ModelRef ref, ModelCard card, Scheduler scheduler, long weightBytes) {
        this.ref = ref;
        this.card = card;
        this.scheduler = scheduler;
        this.weightBytes = weightBytes;
    }

    /**
     * Opens (verifying every checksum, so a partly written or altered model is never served), loads the weights
     * and starts the scheduler.
     */
    static LoadedModel load(ModelStore store, ModelRef ref, ServerOptions options, ServingMetrics metrics) throws IOException {
        StepEngine engine;
        BpeTokenizer tokenizer;
        ModelCard card;
        try (OpenedModel opened = store.open(ref.dir())) {
            ModelConfig config = opened.config();
            tokenizer = BpeTokenizer.load(opened.tokenizerFile());
            if (tokenizer.vocabSize() > config.vocabSize()) {
                throw new IllegalArgumentException("the tokenizer of " + ref + " has " + tokenizer.vocabSize()
                        + " tokens but the model's vocabulary only " + config.vocabSize());
            }
            // The native engine copies the weights out of the mapped files, so the folder can be closed after this;
            // ONNX Runtime reads model.onnx itself. Both use the engine's threads.
            Engine.Options engineOptions = options.engineFor(config);
            if (opened.onnxExport()) {
                engine = OnnxEngine.load(opened, engineOptions, Parallel.shared().threads());
            } else if (options.cudaDevice() >= 0) {
                // The device engine takes whole steps of up to the scheduler's token budget.
                CudaEngine.Options cuda = new CudaEngine.Options(engineOptions.kvBlockSize(), engineOptions.kvBlocks(),
                        options.maxRunning(), options.tokenBudget(), true, 16).withKvFormat(options.kvFormat());
                engine = options.sharded()
                        ? PlacementPlanner.open(opened, tokenizer, cuda, options.cudaDevices(), options.shardWorkers(),
                                options.expertPlacement(), line -> LOG.log(System.Logger.Level.INFO, line))
                        : CudaEngine.load(opened, cuda, options.cudaDevice());
            } else {
                engine = Engine.load(opened, engineOptions);
            }
            card = ModelCatalog.card(ref, opened.manifest(), true);
        }
        ModelConfig config = engine.config();
        Architecture.Sparse sparse = config.architecture().sparse();
        ModelMetrics modelMetrics = metrics.forModel(ref.name(), sparseLayers(config), sparse == null ? 0 : sparse.experts(),
                engine::expertDevice, engine.deviceBytes());
        Scheduler scheduler = new Scheduler(ref.name(), engine, tokenizer, options.scheduler(), modelMetrics).start();
        WeightFormat format = engine instanceof Engine e ? e.weights().format()
                : engine instanceof CudaEngine || engine instanceof ShardedCudaEngine ? WeightFormat.BF16 : WeightFormat.F32;
        return new LoadedModel(ref, card, scheduler, weightBytes(config, format));
    }

    /** Bytes of weights a model of this config takes in memory, all experts included. */
    static long weightBytes(ModelConfig config, WeightFormat format) {
        return config.totalParameters() * (format == WeightFormat.BF16 ? 2 : 4);
    }

    private static List<Integer> sparseLayers(ModelConfig config) {
        List<Integer> layers = new ArrayList<>();
        for (int l = 0; l < config.layers(); l++) {
            if (config.architecture().isSparseLayer(l)) {
                layers.add(l);
            }
        }
        return layers;
    }

    String name() {
        return ref.name();
    }

    /** Called inside the cache's atomic compute, so eviction cannot slip between the lookup and the pin. */
    void pin() {
        pins.incrementAndGet();
    }

    /** True when this was the last pin: the model is idle and may be evicted once re-weighed. */
    boolean unpin() {
        return pins.decrementAndGet() == 0;
    }

    boolean pinned() {
        return pins.get() > 0;
    }

    /** Refuses a model whose weights alone exceed the loaded-models budget. */
    static void checkFits(ModelRef ref, long bytes, long budget) {
        if (bytes > budget) {
            throw new GenerationException(GenerationException.Kind.RESOURCE_EXHAUSTED, "model " + ref + " needs " + bytes
                    + " bytes of weights, more than the server's loaded-models budget of " + budget, "model");
        }
    }
}
