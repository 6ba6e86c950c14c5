/** Turning a model's next-token logits into a token: penalties, temperature, top-k, top-p, stop strings. */
package dev.switchback.kernels.sampling;
