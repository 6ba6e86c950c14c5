package dev.switchback.client;

import dev.switchback.server.grpc.proto.GenerateRequest;
import dev.switchback.server.grpc.proto.GenerateResponse;
import dev.switchback.server.grpc.proto.GenerateStreamResponse;
import dev.switchback.server.grpc.proto.GenerationGrpc;
import dev.switchback.server.grpc.proto.ListModelsRequest;
import dev.switchback.server.grpc.proto.ModelCard;
import dev.switchback.server.grpc.proto.Usage;
import io.grpc.Context;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import io.grpc.stub.MetadataUtils;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/** The client over gRPC: {@code switchback.v1.Generation} through its generated blocking stub. */
final class GrpcTransport implements SwitchbackClient {
    private static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    private final ClientSettings settings;
    private final ManagedChannel channel;
    private final GenerationGrpc.GenerationBlockingStub stub;

    GrpcTransport(ClientSettings settings) {
        this.settings = settings;
        this.channel = NettyChannelBuilder
                .forAddress(settings.url().getHost(), settings.port(settings.tls() ? 443 : 80),
                        settings.tls() ? TlsChannelCredentials.create() : InsecureChannelCredentials.create())
                .withOption(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) settings.connectTimeout().toMillis())
                .build();
        GenerationGrpc.GenerationBlockingStub s = GenerationGrpc.newBlockingStub(channel);
        if (settings.apiKey() != null) {
            Metadata headers = new Metadata();
            headers.put(AUTHORIZATION, "Bearer " + settings.apiKey());
            s = s.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
        }
        this.stub = s;
    }

    @Override
    public Completion complete(CompletionRequest request) {
        try {
            GenerateResponse r = call().generate(message(request));
            return new Completion(r.getId(), r.getModel(), r.getText(), r.getFinishReason(), usage(r.getUsage()));
        } catch (StatusRuntimeException e) {
            throw GrpcErrors.of(e, settings.base());
        }
    }

    @Override
    public Completion stream(CompletionRequest request, Consumer<String> pieces) {
        // The blocking iterator's call lives in this context: cancelling it on the way out ends the call on the
        // server (and its generation) when the caller's consumer throws.
        Context.CancellableContext context = Context.current().withCancellation();
        Context previous = context.attach();
        try {
            Iterator<GenerateStreamResponse> messages = call().generateStream(message(request));
            StringBuilder text = new StringBuilder();
            String id = "";
            while (messages.hasNext()) {
                GenerateStreamResponse m = messages.next();
                id = m.getId();
                if (!m.getText().isEmpty()) {
                    text.append(m.getText());
                    pieces.accept(m.getText());
                }
                if (!m.getFinishReason().isEmpty()) {
                    return new Completion(id, request.model(), text.toString(), m.getFinishReason(), usage(m.getUsage()));
                }
            }
            throw new SwitchbackException(0, "stream_error", "the stream ended without a finish reason", null);
        } catch (StatusRuntimeException e) {
            throw GrpcErrors.of(e, settings.base());
        } finally {
            context.detach(previous);
            context.cancel(null);
        }
    }

    @Override
    public List<String> models() {
        try {
            return call().listModels(ListModelsRequest.getDefaultInstance()).getModelsList().stream()
                    .map(ModelCard::getName)
                    .toList();
        } catch (StatusRuntimeException e) {
            throw GrpcErrors.of(e, settings.base());
        }
    }

    @Override
    public void close() {
        channel.shutdownNow();
        try {
            channel.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A stub whose deadline starts now: the server takes it as the generation's timeout. */
    private GenerationGrpc.GenerationBlockingStub call() {
        return stub.withDeadlineAfter(settings.requestTimeout().toNanos(), TimeUnit.NANOSECONDS);
    }

    private static GenerateRequest message(CompletionRequest r) {
        GenerateRequest.Builder b = GenerateRequest.newBuilder()
                .setModel(r.model())
                .setPrompt(r.prompt())
                .setMaxTokens(r.maxTokens())
                .addAllStop(r.stop());
        if (r.temperature() != null) {
            b.setTemperature(r.temperature().floatValue());
        }
        return b.build();
    }

    private static Completion.Usage usage(Usage u) {
        return new Completion.Usage(u.getPromptTokens(), u.getCompletionTokens(), u.getTotalTokens());
    }
}
