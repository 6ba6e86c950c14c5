/**
 * Our own reader and writer of the <a href="https://github.com/huggingface/safetensors">safetensors</a> format.
 *
 * <p>Layout: an 8-byte little-endian unsigned header length {@code N}, {@code N} bytes of UTF-8 JSON
 * ({@code {"name":{"dtype":"F32","shape":[..],"data_offsets":[begin,end]}, "__metadata__":{..}}}), then the raw
 * little-endian tensor data. Offsets are relative to the start of the data; tensors are contiguous, without
 * gaps or overlaps. Our writer pads the header with spaces so that the data starts on an 8-byte boundary.
 *
 * <p>{@link dev.switchback.store.safetensors.SafetensorsFile} memory-maps a file and refuses one whose header
 * does not describe its data exactly; {@link dev.switchback.store.safetensors.SafetensorsWriter} writes and
 * fsyncs one.
 */
package dev.switchback.store.safetensors;
