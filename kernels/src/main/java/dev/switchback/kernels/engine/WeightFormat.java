package dev.switchback.kernels.engine;

/** How the engine holds the big matrices in memory; norms and routers always stay F32. */
public enum WeightFormat {
    /** float32: exact against the trainer. */
    F32,
    /** bfloat16: half the bytes read per token, widened to F32 inside the kernels. */
    BF16
}
