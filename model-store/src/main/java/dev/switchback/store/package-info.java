/**
 * The model folder format (v1) and the versioned store that publishes, lists, verifies and opens models.
 *
 * <pre>
 * &lt;store&gt;/&lt;name&gt;/&lt;version&gt;/      version = 1, 2, 3 … (never rewritten once published)
 *   model.json                  {@link dev.switchback.store.ModelManifest}
 *   tokenizer.json              byte-level BPE, Hugging Face tokenizer.json-compatible
 *   model.safetensors           every weight except the experts (names: {@link dev.switchback.store.TensorNames})
 *   model.onnx                  instead of the safetensors, in an ONNX export ({@code "engine": "onnx"} in model.json)
 *   experts-&lt;layer&gt;.safetensors one per sparse layer, so a shard loads only the experts it serves
 *   reference.json              {@link dev.switchback.store.ReferenceLogits}: prompts and the trainer's logits
 *   SHA256SUMS                  "&lt;hex&gt;  &lt;file&gt;" lines, checkable with {@code sha256sum -c}
 * </pre>
 *
 * <p>Publishing writes into a hidden temporary folder {@code <store>/<name>/.tmp-<uuid>} and renames it to the
 * next free version atomically, so a reader never sees a half-written model; opening verifies every checksum.
 */
package dev.switchback.store;
