/**
 * Continuous batching: one {@link dev.switchback.server.scheduler.Scheduler} thread per loaded model owns its engine,
 * KV block pool and prefix cache, and turns queued requests into forward steps and streamed tokens.
 */
package dev.switchback.server.scheduler;
