package dev.switchback.server.grpc;

import dev.switchback.server.generation.GenerationListener;
import dev.switchback.server.generation.GenerationService;
import dev.switchback.server.grpc.proto.ModelCard;
import dev.switchback.server.grpc.proto.Usage;
import java.util.Objects;

/** The contract's records as proto messages (protobuf setters refuse null, the contract allows it in places). */
final class GrpcMessages {
    private GrpcMessages() {}

    static Usage usage(GenerationListener.Usage u) {
        return Usage.newBuilder()
                .setPromptTokens(u.promptTokens())
                .setCompletionTokens(u.completionTokens())
                .setTotalTokens(u.totalTokens())
                .build();
    }

    static ModelCard card(GenerationService.ModelCard c) {
        return ModelCard.newBuilder()
                .setName(c.name())
                .setVersion(c.version())
                .setArchitecture(Objects.requireNonNullElse(c.architecture(), ""))
                .setTotalParameters(c.totalParameters())
                .setActiveParameters(c.activeParameters())
                .setContextLength(c.contextLength())
                .setLoaded(c.loaded())
                .build();
    }

    static String remainingText(GenerationListener.Completion c) {
        return Objects.requireNonNullElse(c.remainingText(), "");
    }
}
