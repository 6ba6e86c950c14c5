package dev.switchback.client;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * A client of one switchback server, over HTTP (OpenAI-compatible JSON and Server-Sent Events) or gRPC
 * ({@code switchback.v1.Generation}), chosen by the URL's scheme: {@code http://}, {@code https://},
 * {@code grpc://} (plaintext) or {@code grpcs://} (TLS). Failures are {@link SwitchbackException}s.
 */
public interface SwitchbackClient extends AutoCloseable {
    /** The whole completion in one answer. */
    Completion complete(CompletionRequest request);

    /** Streams the completion: {@code pieces} gets each new piece of text as it arrives; returns the whole of it. */
    Completion stream(CompletionRequest request, Consumer<String> pieces);

    /** The names of the models the server holds. */
    List<String> models();

    @Override
    void close();

    /** A client with default timeouts and no API key. */
    static SwitchbackClient connect(String url) {
        return builder().url(url).build();
    }

    static Builder builder() {
        return new Builder();
    }

    /** The wire protocols a client speaks. */
    enum Transport {
        HTTP,
        GRPC
    }

    /** Settings of a client; the URL is required. */
    final class Builder {
        private URI url;
        private Transport transport;
        private String apiKey;
        private Duration connectTimeout = Duration.ofSeconds(10);
        private Duration requestTimeout = Duration.ofMinutes(5);

        private Builder() {}

        /** The server, e.g. {@code http://localhost:8080} or {@code grpc://localhost:9090}. */
        public Builder url(String value) {
            try {
                url = URI.create(value);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("url is not a URL: " + value, e);
            }
            return this;
        }

        /** Overrides the transport the URL's scheme picks ({@code https} then means TLS for gRPC too). */
        public Builder transport(Transport value) {
            transport = value;
            return this;
        }

        /** Sent as {@code Authorization: Bearer KEY}; null for none. */
        public Builder apiKey(String value) {
            apiKey = value == null || value.isBlank() ? null : value;
            return this;
        }

        public Builder connectTimeout(Duration value) {
            connectTimeout = positive("connectTimeout", value);
            return this;
        }

        /** How long one request may take: until the answer for {@code complete}, until the first byte for streams over HTTP, and the gRPC deadline. */
        public Builder requestTimeout(Duration value) {
            requestTimeout = positive("requestTimeout", value);
            return this;
        }

        public SwitchbackClient build() {
            if (url == null) {
                throw new IllegalArgumentException("url is required");
            }
            String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase(Locale.ROOT);
            boolean tls = switch (scheme) {
                case "http", "grpc" -> false;
                case "https", "grpcs" -> true;
                default -> throw new IllegalArgumentException(
                        "url must start with http://, https://, grpc:// or grpcs://, got " + url);
            };
            if (url.getHost() == null) {
                throw new IllegalArgumentException("url has no host: " + url);
            }
            Transport t = transport != null ? transport : scheme.startsWith("grpc") ? Transport.GRPC : Transport.HTTP;
            ClientSettings settings = new ClientSettings(url, tls, apiKey, connectTimeout, requestTimeout);
            return t == Transport.GRPC ? new GrpcTransport(settings) : new HttpTransport(settings);
        }

        private static Duration positive(String field, Duration value) {
            if (value == null || value.isNegative() || value.isZero()) {
                throw new IllegalArgumentException(field + " must be > 0, got " + value);
            }
            return value;
        }
    }
}
