package dev.switchback.cli;

import dev.switchback.client.Completion;
import dev.switchback.client.CompletionRequest;
import dev.switchback.client.SwitchbackClient;
import dev.switchback.client.SwitchbackException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code switchback complete}: asks a running server to continue a prompt, over HTTP or gRPC. */
@Command(name = "complete", mixinStandardHelpOptions = true,
        description = "Continue a prompt with a model on a running switchback server.")
final class CompleteCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--url", paramLabel = "URL", defaultValue = "${env:SWITCHBACK_URL:-http://localhost:8080}",
            description = "Server: http://host:port (OpenAI API) or grpc://host:port (default: $SWITCHBACK_URL or ${DEFAULT-VALUE}).")
    String url;

    @Option(names = "--prompt", required = true, paramLabel = "TEXT", description = "Text to continue.")
    String prompt;

    @Option(names = "--model", paramLabel = "NAME", description = "Model name (default: the server's first model).")
    String model;

    @Option(names = "--max-tokens", paramLabel = "N", defaultValue = "0",
            description = "Most tokens to generate (default: the server's).")
    int maxTokens;

    @Option(names = "--temperature", paramLabel = "T", description = "Sampling temperature, 0 for greedy (default: the server's).")
    Double temperature;

    @Option(names = "--stream", description = "Print the text piece by piece as it is generated.")
    boolean stream;

    @Option(names = "--api-key", paramLabel = "KEY", defaultValue = "${env:SWITCHBACK_API_KEY}",
            description = "API key, sent as 'Authorization: Bearer KEY' (default: $SWITCHBACK_API_KEY).")
    String apiKey;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "300",
            description = "Give up after this many seconds (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        SwitchbackClient.Builder builder = SwitchbackClient.builder().url(url).apiKey(apiKey)
                .requestTimeout(Duration.ofSeconds(timeoutSeconds));
        try (SwitchbackClient client = builder.build()) {
            CompletionRequest request =
                    new CompletionRequest(model != null ? model : firstModel(client), prompt, maxTokens, temperature, List.of());
            if (stream) {
                client.stream(request, piece -> {
                    out.print(piece);
                    out.flush();
                });
                out.println();
            } else {
                Completion c = client.complete(request);
                out.println(c.text());
            }
            out.flush();
            return 0;
        } catch (SwitchbackException e) {
            out.flush();
            spec.commandLine().getErr().println("error: " + e.describe());
            return 1;
        }
    }

    private static String firstModel(SwitchbackClient client) {
        List<String> models = client.models();
        if (models.isEmpty()) {
            throw new SwitchbackException(0, "no_models", "the server has no models; name one with --model", null);
        }
        return models.getFirst();
    }
}
