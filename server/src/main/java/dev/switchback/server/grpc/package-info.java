/** The gRPC endpoint: switchback.v1.Generation over a GenerationService, with health, reflection and API keys. */
package dev.switchback.server.grpc;
