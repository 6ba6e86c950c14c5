package dev.switchback.cli;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.switchback.kernels.cuda.Cudart;
import dev.switchback.kernels.engine.CudaEngine;
import dev.switchback.kernels.engine.StepEngine;
import dev.switchback.store.OpenedModel;
import org.junit.jupiter.api.Tag;

/**
 * {@code switchback serve --device cuda} end to end on GPU 0: HTTP and gRPC completions equal the CUDA engine's own
 * greedy continuation, 64 concurrent streams complete with their solo results, and the per-expert counters that
 * come back from the device add up to the tokens fed. Runs only where a CUDA device is found (tag {@code gpu}).
 */
@Tag("gpu")
class ServeCudaIntegrationTest extends ServeIntegrationBase {
    @Override
    void assumeDevice() {
        String why = Cudart.unavailableReason();
        assumeTrue(why == null, "no CUDA: " + why);
    }

    @Override
    String device() {
        return "cuda";
    }

    @Override
    StepEngine engine(OpenedModel opened) {
        return CudaEngine.load(opened, CudaEngine.Options.defaults(), 0);
    }
}
