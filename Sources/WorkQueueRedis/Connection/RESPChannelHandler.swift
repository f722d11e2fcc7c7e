import NIOCore

/// What is resumed with a request's replies: a continuation (the client) or a promise.
package enum RedisReplyWaiter: Sendable {
    case continuation(CheckedContinuation<[RESPValue], any Error>)
    case promise(EventLoopPromise<[RESPValue]>)

    func succeed(_ replies: [RESPValue]) {
        switch self {
        case let .continuation(continuation): continuation.resume(returning: replies)
        case let .promise(promise): promise.succeed(replies)
        }
    }

    func fail(_ error: RedisError) {
        switch self {
        case let .continuation(continuation): continuation.resume(throwing: error)
        case let .promise(promise): promise.fail(error)
        }
    }
}

/// Commands written together and the waiter for all their replies.
package struct RedisRequest: Sendable {
    package var commands: [RESPCommand]
    package var waiter: RedisReplyWaiter
    /// How long the replies may take.
    package var timeout: Duration

    package init(commands: [RESPCommand], waiter: RedisReplyWaiter, timeout: Duration) {
        self.commands = commands
        self.waiter = waiter
        self.timeout = timeout
    }
}

/// Writes requests and matches the replies to them FIFO (pipelining), on the event loop.
///
/// ``send(_:)`` (called on the event loop) writes a request's commands and queues its waiter;
/// each parsed reply goes to the oldest request, whose waiter is resumed directly once its
/// replies are all in. One scheduled task watches the oldest request's deadline; when it passes,
/// everything pending fails with ``RedisError/timedOut(endpoint:command:after:)`` and the channel
/// closes (a late reply would otherwise be matched to a later command). Invalid RESP, a reply
/// nobody asked for, an error in the pipeline and the channel closing all fail everything pending.
package final class RESPChannelHandler: ChannelInboundHandler {
    package typealias InboundIn = ByteBuffer
    package typealias OutboundOut = ByteBuffer

    private var stateMachine: RedisConnectionStateMachine<RedisReplyWaiter>
    private var parser: RESPParser
    private var context: ChannelHandlerContext?
    private var timer: Scheduled<Void>?
    private let endpoint: String

    package init(endpoint: String, maxBufferedBytes: Int = RESPParser.defaultMaxBufferedBytes) {
        self.endpoint = endpoint
        self.stateMachine = RedisConnectionStateMachine(endpoint: endpoint, active: false)
        self.parser = RESPParser(maxBufferedBytes: maxBufferedBytes)
    }

    /// Requests waiting for replies (for tests).
    package var pendingCount: Int { stateMachine.pendingCount }

    package func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { stateMachine.channelActive() }
    }

    package func handlerRemoved(context: ChannelHandlerContext) {
        fail(stateMachine.channelInactive(), .connectionClosed(endpoint))
        cancelTimer()
        self.context = nil
    }

    package func channelActive(context: ChannelHandlerContext) {
        stateMachine.channelActive()
        context.fireChannelActive()
    }

    package func channelInactive(context: ChannelHandlerContext) {
        fail(stateMachine.channelInactive(), .connectionClosed(endpoint))
        cancelTimer()
        context.fireChannelInactive()
    }

    package func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(stateMachine.errorCaught(), .connectionClosed(endpoint))
        cancelTimer()
        context.close(promise: nil)
    }

    /// Writes `request` and queues it for its replies; fails it at once if the connection is
    /// closing or closed. Must be called on the channel's event loop.
    package func send(_ request: RedisRequest) {
        guard let context, !request.commands.isEmpty else {
            request.waiter.fail(.connectionClosed(endpoint))
            return
        }
        let first = request.commands[0]
        let deadline = context.eventLoop.now + TimeAmount(request.timeout)
        var entry = RedisConnectionStateMachine<RedisReplyWaiter>.Request(
            waiter: request.waiter, count: request.commands.count, deadline: deadline,
            timeout: request.timeout, command: { first.name })
        if request.commands.contains(where: \.wantsToken) { entry.tokens = request.commands.map(\.wantsToken) }
        switch stateMachine.send(entry) {
        case let .write(armTimer):
            for command in request.commands { context.write(wrapOutboundOut(command.encoded), promise: nil) }
            context.flush()
            if let armTimer { arm(armTimer, context: context) }
        case let .fail(waiter, error):
            waiter.fail(error)
        }
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard stateMachine.isOpen else { return }
        parser.feed(unwrapInboundIn(data))
        while true {
            let action: RedisConnectionStateMachine<RedisReplyWaiter>.ReplyAction
            do {
                // A reply its command wants undecoded is checked and handed over whole.
                let next = try stateMachine.nextReplyWantsToken ? parser.nextToken() : parser.next()
                guard let value = next else { return }
                action = stateMachine.receive(value)
            } catch {
                action = stateMachine.protocolError(error)
            }
            switch action {
            case .none:
                continue
            case let .succeed(waiter, replies, armTimer):
                if let armTimer { arm(armTimer, context: context) }
                waiter.succeed(replies)
            case let .failAllAndClose(waiters, error):
                cancelTimer()
                fail(waiters, error)
                context.close(promise: nil)
                return
            }
        }
    }

    private func arm(_ deadline: NIODeadline, context: ChannelHandlerContext) {
        timer?.cancel()
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            self.timerFired()
        }
    }

    private func timerFired() {
        timer = nil
        guard let context else { return }
        switch stateMachine.timerFired(now: context.eventLoop.now) {
        case .none:
            break
        case let .arm(deadline):
            arm(deadline, context: context)
        case let .failAllAndClose(waiters, error):
            fail(waiters, error)
            context.close(promise: nil)
        }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
    }

    private func fail(_ waiters: [RedisReplyWaiter], _ error: RedisError) {
        for waiter in waiters { waiter.fail(error) }
    }
}
