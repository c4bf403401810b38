import NIOCore
import NIOHTTP1

/// Ends a connection whose request could not be parsed (too many headers, a header line
/// over 80 KiB, not HTTP at all) once the client has had its 400.
///
/// Hummingbird answers such a request 400 with `Connection: close`, half-closes and waits
/// for the client to close. But nothing reads after the parse error, so a client that had
/// sent more than the socket buffers hold (a 1 MiB header line) never had its close seen:
/// the connection, its descriptor and the bytes queued in the kernel were held until the
/// idle timeout, or for ever without one. So after the error this reads on, dropping what
/// arrives, until the client closes (which then closes the connection), and closes it
/// itself after `lingering` at most. Closing at once instead would reset the connection
/// while the client may still be sending, and a reset can destroy the 400 before the client
/// reads it.
final class BadRequestCloser: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny

    static let lingering: TimeAmount = .seconds(5)
    private var failed = false
    private var deadline: Scheduled<Void>?

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if failed, error is ByteToMessageDecoderError {
            return  // bytes that arrived after the parse error, dropped by the decoder
        }
        if error is HTTPParserError, !failed {
            failed = true
            let channel = context.channel
            deadline = context.eventLoop.scheduleTask(in: Self.lingering) { channel.close(promise: nil) }
            context.read()
        }
        context.fireErrorCaught(error)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Past the error nobody downstream asks for more, so ask here, until the end of input.
        if failed { context.read() }
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }
}
