package dev.switchback.loadtest;

import static io.gatling.javaapi.core.CoreDsl.constantConcurrentUsers;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.rampUsersPerSec;
import static io.gatling.javaapi.http.HttpDsl.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.gatling.javaapi.core.ClosedInjectionStep;
import io.gatling.javaapi.core.OpenInjectionStep;
import io.gatling.javaapi.core.PopulationBuilder;
import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Session;
import io.gatling.javaapi.core.Simulation;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;

/**
 * What the simulations share: the target and the load, read from system properties with small defaults, and KJV
 * prompts. Properties ({@code -Dname=value} on the Maven command line):
 * <ul>
 *   <li>{@code url} (http://127.0.0.1:8080; loopback only), {@code model} (switch-tiny), {@code maxTokens} (32),
 *       {@code promptWords} (24, about 32 tokens)</li>
 *   <li>{@code load}: {@code closed} (default: {@code users} concurrent users, 4, for {@code durationS} seconds, 20)
 *       or {@code open} (arrivals ramping from {@code rateFrom} to {@code rateTo} users per second, 1 to 8, over
 *       {@code durationS}); each user sends one request</li>
 *   <li>{@code corpus}: the KJV file ({@code ../../shared/corpus/kjv.txt.gz} from load-tests/)</li>
 * </ul>
 */
final class LlmLoad {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern REFERENCE = Pattern.compile("^\\S*?\\d+:\\d+ ");

    final String url = loopback(System.getProperty("url", "http://127.0.0.1:8080"));
    final String model = System.getProperty("model", "switch-tiny");
    final int maxTokens = positive("maxTokens", 32);
    final int promptWords = positive("promptWords", 24);
    final String load = System.getProperty("load", "closed");
    final int users = positive("users", 4);
    final int durationSeconds = positive("durationS", 20);
    final double rateFrom = rate("rateFrom", 1);
    final double rateTo = rate("rateTo", 8);
    private final List<String> verses = verses(corpus());

    LlmLoad() {
        if (!load.equals("closed") && !load.equals("open")) {
            throw new IllegalArgumentException("-Dload must be closed or open, got " + load);
        }
    }

    /** The scenario under the configured load. */
    PopulationBuilder populate(ScenarioBuilder scenario) {
        Duration d = Duration.ofSeconds(durationSeconds);
        if (load.equals("open")) {
            return scenario.injectOpen(new OpenInjectionStep[] {rampUsersPerSec(rateFrom).to(rateTo).during(d)});
        }
        return scenario.injectClosed(new ClosedInjectionStep[] {constantConcurrentUsers(users).during(d)});
    }

    /**
     * What every simulation's set-up adds: the target, a bound of the duration plus a minute for the last
     * requests, and a failed run when more than 1% of requests fail.
     */
    void configure(Simulation.SetUp setUp) {
        setUp.protocols(http.baseUrl(url).contentTypeHeader("application/json").shareConnections())
                .maxDuration(maxDuration())
                .assertions(global().failedRequests().percent().lte(1.0));
    }

    Duration maxDuration() {
        return Duration.ofSeconds(durationSeconds + 60L);
    }

    /** An endless feeder of prompts: {@code promptWords} words of consecutive verses from a random verse. */
    Iterator<Map<String, Object>> prompts() {
        Random random = new Random(Long.getLong("seed", 0));
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return true;
            }

            @Override
            public Map<String, Object> next() {
                List<String> words = new ArrayList<>(promptWords);
                for (int v = random.nextInt(verses.size()); words.size() < promptWords; v = (v + 1) % verses.size()) {
                    for (String w : verses.get(v).split(" ")) {
                        if (words.size() < promptWords) {
                            words.add(w);
                        }
                    }
                }
                return Map.of("prompt", String.join(" ", words));
            }
        };
    }

    /** The completion request body for the session's prompt. */
    String body(Session session, boolean stream) {
        ObjectNode body = JSON.createObjectNode().put("model", model).put("prompt", session.getString("prompt"))
                .put("max_tokens", maxTokens).put("temperature", 0.0);
        if (stream) {
            body.put("stream", true).putObject("stream_options").put("include_usage", true);
        }
        return body.toString();
    }

    String describe() {
        return model + " at " + url + ", " + (load.equals("open")
                ? "open load ramping " + rateFrom + " to " + rateTo + " users/s"
                : "closed load of " + users + " users") + " for " + durationSeconds + " s, " + maxTokens + " tokens a request";
    }

    private static Path corpus() {
        String given = System.getProperty("corpus");
        Path file = Path.of(given != null ? given : "../../shared/corpus/kjv.txt.gz");
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("corpus not found: " + file.toAbsolutePath().normalize() + "; pass -Dcorpus=FILE");
        }
        return file;
    }

    // The verse texts without their references (the corpus's "Ge1:1 In the beginning ..." lines).
    private static List<String> verses(Path file) {
        List<String> out = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(new GZIPInputStream(Files.newInputStream(file)),
                StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null; ) {
                if (!line.isBlank()) {
                    out.add(REFERENCE.matcher(line).replaceFirst("").strip());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the corpus " + file + ": " + e.getMessage(), e);
        }
        return out;
    }

    private static String loopback(String url) {
        URI u = URI.create(url);
        boolean ok;
        try {
            ok = u.getHost() != null && InetAddress.getByName(u.getHost()).isLoopbackAddress();
        } catch (UnknownHostException e) {
            ok = false;
        }
        if (!ok || !"http".equals(u.getScheme())) {
            throw new IllegalArgumentException("-Durl must be http://HOST:PORT on loopback; refusing to load " + url);
        }
        return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    }

    private static int positive(String name, int fallback) {
        int v = Integer.getInteger(name, fallback);
        if (v <= 0) {
            throw new IllegalArgumentException("-D" + name + " must be >= 1, got " + v);
        }
        return v;
    }

    private static double rate(String name, double fallback) {
        String s = System.getProperty(name);
        double v = s == null ? fallback : Double.parseDouble(s);
        if (!(v > 0)) {
            throw new IllegalArgumentException("-D" + name + " must be > 0, got " + s);
        }
        return v;
    }
}
