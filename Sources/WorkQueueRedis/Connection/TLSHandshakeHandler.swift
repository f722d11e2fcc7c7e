import NIOCore
import NIOTLS

/// Sits after the TLS handler of a connection: completes ``handshake`` when the TLS handshake
/// is done (or fails, or does not finish within the timeout), and keeps the first error the
/// TLS handler raised, so that a connection closed by a TLS alert after the handshake (a
/// server refusing the client certificate) can say why.
final class TLSHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// Succeeds when the handshake completed.
    let handshake: EventLoopPromise<Void>
    /// The first error seen in the pipeline.
    private(set) var firstError: (any Error)?
    private let endpoint: String
    /// When the connection attempt (TCP connect and handshake) must be done.
    private let deadline: NIODeadline
    private let timeout: Duration
    private var timer: Scheduled<Void>?
    private var done = false

    /// `timeout` is the attempt's whole budget, which ends at `deadline`.
    init(handshake: EventLoopPromise<Void>, endpoint: String, deadline: NIODeadline, timeout: Duration) {
        self.handshake = handshake
        self.endpoint = endpoint
        self.deadline = deadline
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let channel = context.channel
        let (endpoint, timeout) = (self.endpoint, self.timeout)
        timer = context.eventLoop.scheduleTask(deadline: deadline) {
            loopBound.value.finish(.failure(RedisError.connectFailed(
                "the TLS handshake with Redis at \(endpoint) did not finish within \(timeout) of connecting (a plaintext Redis "
                    + "port waits without answering: if that port serves plaintext, use a redis:// URL)")))
            channel.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish(.failure(RedisError.connectionClosed(endpoint)))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event { finish(.success(())) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if firstError == nil { firstError = error }
        finish(.failure(error))
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(firstError ?? RedisError.connectionClosed(endpoint)))
        context.fireChannelInactive()
    }

    private func finish(_ result: Result<Void, any Error>) {
        guard !done else { return }
        done = true
        timer?.cancel()
        timer = nil
        handshake.completeWith(result)
    }
}
