package dev.switchback.trainer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Copies Java arrays into tensors that own their memory. DJL's PyTorch engine wraps Java direct buffers without
 * copying, so a tensor kept alive by PyTorch (a view, a value saved for backward) could outlive the buffer.
 */
public final class Host {
    private Host() {}

    static NDArray floats(NDManager m, float[] values, Shape shape) {
        return own(m.create(values, shape));
    }

    static NDArray longs(NDManager m, long[] values, Shape shape) {
        return own(m.create(values, shape));
    }

    static NDArray ints(NDManager m, int[][] values) {
        return own(m.create(values));
    }

    /**
     * A scalar constant for arithmetic on tensors that record gradients. DJL's {@code mul(Number)} and friends
     * wrap the number in a Java buffer and release it at once, while autograd keeps the tensor for the
     * backward pass: gradients would then read freed memory (seen as sudden NaNs). Use this instead.
     */
    public static NDArray scalar(NDArray like, double value) {
        return own(like.getManager().create((float) value));
    }

    private static NDArray own(NDArray wrapped) {
        NDArray copy = wrapped.duplicate();
        wrapped.close();
        return copy;
    }
}
