package dev.switchback.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.prometheus.metrics.core.metrics.Counter;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.Test;

class ManagementEndpointsTest extends ServerTestBase {
    @Test
    void liveIsAlways200AndReadyFollowsTheService() throws Exception {
        assertEquals(200, get("/health/live").statusCode());
        HttpResponse<String> ready = get("/health/ready");
        assertEquals(200, ready.statusCode());
        assertEquals("{\"status\":\"ready\"}", ready.body());
        service.ready = false;
        assertEquals(503, get("/health/ready").statusCode());
        assertEquals(200, get("/health/live").statusCode());
    }

    @Test
    void metricsAreThePrometheusTextOfTheRegistry() throws Exception {
        Counter counter = Counter.builder().name("switchback_test_requests").help("test counter").register(registry);
        counter.inc(3);
        HttpResponse<String> r = get("/metrics");
        assertEquals(200, r.statusCode());
        assertEquals("text/plain; version=0.0.4; charset=utf-8", r.headers().firstValue("content-type").orElseThrow());
        assertTrue(r.body().contains("# TYPE switchback_test_requests_total counter\n"), r.body());
        assertTrue(r.body().contains("switchback_test_requests_total 3.0\n"), r.body());
    }

    @Test
    void modelsListsTheLoadedModelsInOpenAisShape() throws Exception {
        HttpResponse<String> r = get("/v1/models");
        assertEquals(200, r.statusCode());
        assertEquals("""
                {"object":"list","data":[\
                {"id":"echo","object":"model","created":1700000000,"owned_by":"switchback"},\
                {"id":"plain","object":"model","created":1700000000,"owned_by":"switchback"}]}""", r.body());
    }

    @Test
    void repositoryIndexLoadAndUnload() throws Exception {
        assertEquals("""
                [{"name":"echo","version":"3","state":"READY"},{"name":"plain","version":"1","state":"READY"},\
                {"name":"shelf","version":"2","state":"UNAVAILABLE"}]""", get("/v2/repository/index").body());

        assertEquals(503, post("/v1/completions", "{\"model\":\"shelf\",\"prompt\":\"x\"}").statusCode());
        HttpResponse<String> load = post("/v2/repository/models/shelf/load", "");
        assertEquals(200, load.statusCode(), load.body());
        assertEquals("{\"name\":\"shelf\",\"version\":\"2\",\"state\":\"READY\"}", load.body());
        assertEquals(List.of("shelf"), service.loads);
        assertEquals(200, post("/v1/completions", "{\"model\":\"shelf\",\"prompt\":\"x\"}").statusCode());

        HttpResponse<String> unload = post("/v2/repository/models/echo/unload", "");
        assertEquals(200, unload.statusCode(), unload.body());
        assertEquals("{\"name\":\"echo\",\"state\":\"UNAVAILABLE\"}", unload.body());
        assertEquals(List.of("echo"), service.unloads);
        assertTrue(get("/v2/repository/index").body().contains("{\"name\":\"echo\",\"version\":\"3\",\"state\":\"UNAVAILABLE\"}"));
    }

    @Test
    void loadingAnUnknownModelIs404() throws Exception {
        assertError(post("/v2/repository/models/nope/load", ""), 404, "invalid_request_error", "model");
        assertError(get("/v2/repository/models/nope/load"), 405, "invalid_request_error", null);
    }
}
