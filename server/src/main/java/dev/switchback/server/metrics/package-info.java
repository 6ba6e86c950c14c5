/** Prometheus metrics of serving: latency, queues, KV and prefix cache, tokens, and per-expert load. */
package dev.switchback.server.metrics;
