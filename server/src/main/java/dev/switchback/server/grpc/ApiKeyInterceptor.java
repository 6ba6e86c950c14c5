package dev.switchback.server.grpc;

import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.health.v1.HealthGrpc;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * Refuses calls without {@code authorization: Bearer KEY} metadata with UNAUTHENTICATED. Health checks stay open:
 * load balancers and orchestrators probe without credentials.
 */
final class ApiKeyInterceptor implements ServerInterceptor {
    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    private static final String BEARER = "Bearer ";

    private final byte[] key;

    ApiKeyInterceptor(String key) {
        this.key = key.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        if (HealthGrpc.SERVICE_NAME.equals(call.getMethodDescriptor().getServiceName()) || authorized(headers.get(AUTHORIZATION))) {
            return next.startCall(call, headers);
        }
        call.close(Status.UNAUTHENTICATED.withDescription("missing or invalid API key: send 'authorization: Bearer KEY'"),
                new Metadata());
        return new ServerCall.Listener<>() {};
    }

    private boolean authorized(String header) {
        if (header == null || !header.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
            return false;
        }
        byte[] given = header.substring(BEARER.length()).trim().getBytes(StandardCharsets.UTF_8);
        // Constant time, so response timing does not reveal how much of a guessed key was right.
        return MessageDigest.isEqual(given, key);
    }
}
