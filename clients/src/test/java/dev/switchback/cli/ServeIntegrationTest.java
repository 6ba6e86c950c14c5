package dev.switchback.cli;

import dev.switchback.kernels.engine.Engine;
import dev.switchback.kernels.engine.StepEngine;
import dev.switchback.store.OpenedModel;

/** {@code switchback serve} end to end on the CPU engine. */
class ServeIntegrationTest extends ServeIntegrationBase {
    @Override
    String device() {
        return "cpu";
    }

    @Override
    StepEngine engine(OpenedModel opened) {
        return Engine.load(opened, Engine.Options.defaults());
    }
}
