package dev.switchback.server.http;

import io.netty.handler.codec.http.HttpRequest;

/**
 * A request whose body went over the limit, standing in for it in the pipeline so that its 413 is answered in
 * order with the other requests of the connection.
 *
 * @param head the request line and headers (the body was dropped)
 * @param keepAlive whether the connection can carry another request afterwards
 */
record OversizedRequest(HttpRequest head, boolean keepAlive) {}
