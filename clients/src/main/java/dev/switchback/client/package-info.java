/** The Java client of a switchback server: completions and models over HTTP (OpenAI JSON, SSE) or gRPC. */
package dev.switchback.client;
