package dev.switchback.trainer.optim;

/** Linear warm-up to the peak, then cosine decay to {@code minRatio × peak} at the last step. */
public record LrSchedule(double peak, int warmupSteps, int totalSteps, double minRatio) {

    /** Learning rate of (1-based) step {@code step}. */
    public double at(int step) {
        if (warmupSteps > 0 && step <= warmupSteps) {
            return peak * step / warmupSteps;
        }
        int decaySteps = Math.max(1, totalSteps - warmupSteps);
        double progress = Math.min(1.0, (double) (step - warmupSteps) / decaySteps);
        double min = peak * minRatio;
        return min + (peak - min) * 0.5 * (1 + Math.cos(Math.PI * progress));
    }
}
