package dev.switchback.trainer;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.switchback.store.TensorNames;
import dev.switchback.store.model.Architecture;
import dev.switchback.trainer.data.BatchSampler;
import dev.switchback.trainer.data.TokenData;
import dev.switchback.trainer.model.ForwardPass;
import dev.switchback.trainer.model.Gpt;
import dev.switchback.trainer.model.Routing;
import org.junit.jupiter.api.Test;

class GradientFlowTest {

    @Test
    void gradientReachesRouterAndEveryExpertThatReceivedTokens() {
        Architecture arch = Fixtures.switchArch();
        TokenData data = Fixtures.data();
        try (NDManager root = NDManager.newBaseManager();
                Gpt gpt = Gpt.initialise(root, Fixtures.model(arch), 0, 5, null);
                NDManager m = root.newSubManager()) {
            for (NDArray p : gpt.parameters().all().values()) {
                p.tempAttach(m);
            }
            BatchSampler.Batch batch = new BatchSampler(data.train(), 8, 16, 1).batch(1);
            ForwardPass pass;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                pass = gpt.forward(m, batch.inputs(), true);
                gc.backward(Gpt.crossEntropy(m, pass.logits(), batch.targets()).add(pass.auxiliaryLoss(gpt.zLossCoef())));
            }
            for (ForwardPass.LayerRouting lr : pass.routings()) {
                Routing r = lr.routing();
                NDArray routerGrad = gpt.parameters().get(TensorNames.router(lr.layer())).getGradient();
                assertTrue(routerGrad.abs().sum().getFloat() > 0, "router of layer " + lr.layer() + " gets a gradient");
                for (int e = 0; e < r.plan().routed().length; e++) {
                    float g = gpt.parameters().get(TensorNames.expertW1(lr.layer(), e)).getGradient().abs().sum().getFloat();
                    if (r.plan().routed()[e] > 0) {
                        assertTrue(g > 0, "expert " + e + " of layer " + lr.layer() + " got tokens and a gradient");
                    } else {
                        assertTrue(g == 0, "expert " + e + " got no tokens, so no gradient");
                    }
                }
            }
            assertNotNull(pass.logits());
        }
    }
}
