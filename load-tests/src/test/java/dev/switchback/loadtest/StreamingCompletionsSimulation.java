package dev.switchback.loadtest;

import static io.gatling.javaapi.core.CoreDsl.StringBody;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.core.CoreDsl.substring;
import static io.gatling.javaapi.http.HttpDsl.sse;

import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;

/**
 * Streamed {@code POST /v1/completions} over Server-Sent Events. Gatling reports three timings per request:
 * {@code stream} (until the response headers), {@code first token} (headers to the first chunk of text: with the
 * first, about TTFT) and {@code [DONE]} (first token to the end of the stream: the decoding).
 */
public class StreamingCompletionsSimulation extends Simulation {
    private final LlmLoad load = new LlmLoad();

    private final ScenarioBuilder streams = scenario("streamed completions: " + load.describe())
            .feed(load.prompts())
            .exec(sse("stream")
                    .post("/v1/completions")
                    .header("Accept", "text/event-stream")
                    .body(StringBody(session -> load.body(session, true)))
                    .await(load.maxDuration())
                    .on(
                            sse.checkMessage("first token").matching(substring("text_completion")),
                            sse.checkMessage("[DONE]").matching(substring("[DONE]"))))
            .exec(sse("close").close());

    {
        load.configure(setUp(load.populate(streams)));
    }
}
