package dev.switchback.trainer;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.switchback.store.model.HashRouting;
import dev.switchback.trainer.data.BatchSampler;
import dev.switchback.trainer.data.TokenData;
import dev.switchback.trainer.model.ForwardPass;
import dev.switchback.trainer.model.Gpt;
import dev.switchback.trainer.optim.AdamW;
import dev.switchback.trainer.optim.LrSchedule;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The training loop's state and its two operations: one optimizer step, and an evaluation of the validation
 * split. Everything a step depends on — parameters, optimizer moments, the step counter — is in here, and the
 * batch and dropout masks of step n are functions of (seed, n), so a resumed run repeats an uninterrupted one.
 */
public final class Trainer implements AutoCloseable {
    private final TrainConfig config;
    private final NDManager root;
    private final Gpt model;
    private final AdamW optimizer;
    private final LrSchedule schedule;
    private final BatchSampler sampler;
    private final TokenData data;
    private int step;

    /**
     * Outcome of one optimizer step.
     *
     * @param loss what was minimised: the objective plus the routing losses
     * @param crossEntropy ground-truth next-token cross-entropy
     * @param terms the objective's further reported scalars (none for plain cross-entropy)
     */
    public record StepResult(
            int step, double loss, double crossEntropy, double auxLoss, double lr, double gradNorm, long tokens, long nanos,
            RoutingSummary routing, Map<String, Double> terms) {}

    /** Validation loss (mean next-token cross-entropy, nats) and its perplexity. */
    public record Evaluation(double loss, long tokens) {
        public double perplexity() {
            return Math.exp(loss);
        }
    }

    public Trainer(TrainConfig config, TokenData data, HashRouting hash) {
        this.config = config;
        this.data = data;
        TrainConfig.Training t = config.training();
        this.root = NDManager.newBaseManager();
        this.model = Gpt.initialise(root, config.model(), t.dropout(), t.seed(), hash);
        this.optimizer = new AdamW(model.parameters().all(), model.parameters().manager(), t.beta1(), t.beta2(), 1e-8, t.weightDecay());
        this.schedule = new LrSchedule(t.lr(), t.warmupSteps(), t.steps(), t.minLrRatio());
        this.sampler = new BatchSampler(data.train(), t.batchSize(), t.seqLen(), t.seed());
    }

    /** Runs the next optimizer step on the ground-truth cross-entropy. */
    public StepResult step() {
        return step(Objective.CROSS_ENTROPY);
    }

    /** Runs the next optimizer step on {@code objective} plus the routing losses. */
    public StepResult step(Objective objective) {
        int n = ++step;
        long start = System.nanoTime();
        TrainConfig.Training t = config.training();
        BatchSampler.Batch batch = sampler.batch(n);
        Engine engine = Engine.getInstance();
        // Dropout masks depend only on (seed, step): resuming at step n draws the same masks.
        engine.setRandomSeed((int) (t.seed() * 1_000_003L + n));
        try (NDManager stepManager = root.newSubManager()) {
            attachState(stepManager);
            double loss;
            double ce;
            double aux;
            RoutingSummary routing;
            Map<String, Double> terms = new LinkedHashMap<>();
            Objective.BatchLoss batchLoss = objective.prepare(stepManager, batch);
            try (GradientCollector collector = engine.newGradientCollector()) {
                ForwardPass pass = model.forward(stepManager, batch.inputs(), true);
                Objective.Loss l = batchLoss.of(pass);
                NDArray auxLoss = pass.auxiliaryLoss(model.zLossCoef());
                NDArray total = l.objective().add(auxLoss);
                collector.backward(total);
                loss = total.getFloat();
                ce = l.crossEntropy().getFloat();
                aux = auxLoss.getFloat();
                l.terms().forEach((name, value) -> terms.put(name, (double) value.getFloat()));
                routing = RoutingSummary.of(pass.routings());
            }
            double gradNorm = optimizer.clipGradients(t.gradClip());
            double lr = schedule.at(n);
            optimizer.step(lr);
            return new StepResult(n, loss, ce, aux, lr, gradNorm, t.tokensPerStep(), System.nanoTime() - start, routing,
                    java.util.Collections.unmodifiableMap(terms));
        }
    }

    /** Mean validation cross-entropy over the fixed evaluation windows (eval mode: no dropout, eval capacity). */
    public Evaluation evaluate() {
        TrainConfig.Training t = config.training();
        List<BatchSampler.Batch> batches = BatchSampler.evaluationBatches(data.validation(), t.batchSize(), t.seqLen(), t.evalTokens());
        double sum = 0;
        long tokens = 0;
        for (BatchSampler.Batch b : batches) {
            try (NDManager m = root.newSubManager()) {
                attachState(m);
                ForwardPass pass = model.forward(m, b.inputs(), false);
                long n = (long) b.inputs().length * b.inputs()[0].length;
                sum += Gpt.crossEntropy(m, pass.logits(), b.targets()).getFloat() * n;
                tokens += n;
            }
        }
        return new Evaluation(sum / tokens, tokens);
    }

    /** Makes this step's intermediate arrays land in {@code m} (closed after the step) instead of the model's manager. */
    private void attachState(NDManager m) {
        List<NDArray> state = new ArrayList<>(model.parameters().all().values());
        state.addAll(optimizer.firstMoments().values());
        state.addAll(optimizer.secondMoments().values());
        for (NDArray a : state) {
            a.tempAttach(m);
        }
    }

    /** Steps completed so far. */
    public int completedSteps() {
        return step;
    }

    public TrainConfig config() {
        return config;
    }

    public Gpt model() {
        return model;
    }

    public AdamW optimizer() {
        return optimizer;
    }

    /** Continues from a checkpoint taken after {@code completedSteps} steps. */
    void resumeAt(int completedSteps) {
        this.step = completedSteps;
    }

    @Override
    public void close() {
        model.close();
        root.close();
    }
}
