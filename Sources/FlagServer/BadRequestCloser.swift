import NIOCore
import NIOHTTP1

/// Closes a connection shortly after its request could not be parsed (too many headers, a
/// header line over 80 KiB, not HTTP at all).
///
/// Hummingbird answers such a request 400 with `Connection: close`, half-closes and then
/// waits for the client to close. But the parser stopped reading at the error, so a client
/// that sent more than the socket buffers (a 1 MiB header line) is never read to its end:
/// its close is never seen, and the connection, its descriptor and the bytes queued in the
/// kernel were held until the idle timeout, or for ever without one. The grace period lets
/// the 400 reach the client first.
final class BadRequestCloser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    static let grace: TimeAmount = .seconds(2)
    private var scheduled: Scheduled<Void>?

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError, scheduled == nil {
            let channel = context.channel
            scheduled = context.eventLoop.scheduleTask(in: Self.grace) { channel.close(promise: nil) }
        }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        scheduled?.cancel()
        scheduled = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        scheduled?.cancel()
        scheduled = nil
    }
}
