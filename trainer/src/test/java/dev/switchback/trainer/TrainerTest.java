package dev.switchback.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.switchback.store.model.Architecture;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class TrainerTest {

    static Architecture[] architectures() {
        return Fixtures.allArchitectures();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("architectures")
    void lossFallsAndRoutingAccountsForEveryToken(Architecture arch) {
        try (Trainer trainer = Fixtures.trainer(arch, 60, 0.0)) {
            double before = trainer.evaluate().loss();
            Trainer.StepResult last = null;
            for (int i = 0; i < 60; i++) {
                last = trainer.step();
                assertTrue(Double.isFinite(last.loss()), "loss is finite at step " + last.step());
                long tokens = last.tokens();
                for (var layer : last.routing().layers().entrySet()) {
                    int k = arch.sparse() instanceof Architecture.TopK t ? t.k() : 1;
                    // Every assignment is either computed or counted as dropped, in every Ladder pass.
                    assertEquals(tokens * k * arch.passes(), layer.getValue().assignments(), "layer " + layer.getKey());
                }
            }
            double after = trainer.evaluate().loss();
            assertTrue(before > 3.9, "starts near ln(64): " + before);
            assertTrue(after < before - 1.0, arch.kind() + ": validation loss " + before + " -> " + after);
            if (arch.sparse() != null) {
                assertEquals(arch.passes() * 2, last.routing().layers().size() * arch.passes());
            } else {
                assertTrue(last.routing().layers().isEmpty());
            }
        }
    }
}
