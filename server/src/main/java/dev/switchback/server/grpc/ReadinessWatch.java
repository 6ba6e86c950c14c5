package dev.switchback.server.grpc;

import dev.switchback.server.generation.GenerationService;
import dev.switchback.server.grpc.proto.GenerationGrpc;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Publishes NOT_SERVING on the health service until the generation service is ready (its start-up models loaded),
 * then SERVING. The contract has no readiness callback, so it polls; readiness never goes back, so polling stops.
 */
final class ReadinessWatch implements AutoCloseable {
    /** The overall server ("") and the Generation service, the two names clients and probes ask about. */
    static final List<String> SERVICES = List.of(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, GenerationGrpc.SERVICE_NAME);

    private final GenerationService service;
    private final HealthStatusManager health;
    private final ScheduledExecutorService timer =
            Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("grpc-readiness").factory());

    ReadinessWatch(GenerationService service, HealthStatusManager health) {
        this.service = service;
        this.health = health;
    }

    void start(Duration period) {
        SERVICES.forEach(name -> health.setStatus(name, ServingStatus.NOT_SERVING));
        timer.scheduleWithFixedDelay(this::poll, 0, period.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void poll() {
        if (ready()) {
            SERVICES.forEach(name -> health.setStatus(name, ServingStatus.SERVING));
            timer.shutdown();
        }
    }

    private boolean ready() {
        try {
            return service.ready();
        } catch (RuntimeException e) {
            return false; // an exception would end the polling for good; asking again later is the safer answer
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
