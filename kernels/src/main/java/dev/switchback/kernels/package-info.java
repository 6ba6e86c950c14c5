/**
 * The inference engine's math: weight matrices ({@code tensor}), CPU kernels on the Vector API with scalar
 * references ({@code cpu}), the paged KV cache ({@code kv}), expert routing ({@code routing}), sampling
 * ({@code sampling}) and the model runner with its {@code Backend} ({@code engine}).
 */
package dev.switchback.kernels;
