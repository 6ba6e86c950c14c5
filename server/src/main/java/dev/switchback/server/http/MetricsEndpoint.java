package dev.switchback.server.http;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.util.List;

/** {@code GET /metrics}: the registry in Prometheus text format, scraped off the event loop (collectors may take locks). */
final class MetricsEndpoint implements Endpoint {
    private final PrometheusRegistry registry;
    private final Offload offload;
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();

    MetricsEndpoint(PrometheusRegistry registry, Offload offload) {
        this.registry = registry;
        this.offload = offload;
    }

    @Override
    public void handle(ChannelHandlerContext ctx, FullHttpRequest request, List<String> pathParams) {
        offload.reply(ctx, () -> {
            ByteArrayOutputStream out = new ByteArrayOutputStream(4096);
            writer.write(out, registry.scrape());
            return Responses.full(HttpResponseStatus.OK, Unpooled.wrappedBuffer(out.toByteArray()),
                    PrometheusTextFormatWriter.CONTENT_TYPE);
        });
    }
}
