package dev.switchback.loadtest;

import static io.gatling.javaapi.core.CoreDsl.StringBody;
import static io.gatling.javaapi.core.CoreDsl.jsonPath;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.status;

import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;

/**
 * Non-streaming {@code POST /v1/completions}: each virtual user sends one completion and checks that the answer
 * is a 200 with generated tokens. Gatling's response time here is the whole request (prompt to last token).
 */
public class CompletionsSimulation extends Simulation {
    private final LlmLoad load = new LlmLoad();

    private final ScenarioBuilder completions = scenario("completions: " + load.describe())
            .feed(load.prompts())
            .exec(http("completion")
                    .post("/v1/completions")
                    .body(StringBody(session -> load.body(session, false)))
                    .check(status().is(200), jsonPath("$.usage.completion_tokens").ofInt().gt(0)));

    {
        load.configure(setUp(load.populate(completions)));
    }
}
