package dev.switchback.server.http;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/** The last handler of every pipeline: an error no handler answered (a reset connection, a codec fault) closes the channel quietly. */
@ChannelHandler.Sharable
final class ConnectionErrors extends ChannelInboundHandlerAdapter {
    private static final System.Logger LOG = System.getLogger(ConnectionErrors.class.getName());

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.log(System.Logger.Level.DEBUG, () -> "closing " + ctx.channel() + ": " + cause);
        ctx.close();
    }
}
