import NIOCore

/// The life of one connection as plain data: which requests wait for replies (FIFO), when the
/// oldest of them times out, and what happens on close, errors and timeouts. Its methods return
/// what to do; ``RESPChannelHandler`` does it. No I/O, no clocks: unit-testable as a value.
///
/// `Waiter` is whatever is resumed with a request's replies (a continuation or a promise).
package struct RedisConnectionStateMachine<Waiter> {
    /// A batch of commands written together; its waiter gets all their replies at once.
    package struct Request {
        package var waiter: Waiter
        /// Replies still expected.
        package var remaining: Int
        package var replies: [RESPValue]
        package let deadline: NIODeadline
        package let timeout: Duration
        /// The first command's name, for a timeout's message.
        package let command: @Sendable () -> String
        /// Per command, whether its reply is wanted undecoded (``RESPCommand/wantsToken``);
        /// nil when none is.
        package var tokens: [Bool]?

        package init(waiter: Waiter, count: Int, deadline: NIODeadline, timeout: Duration, command: @escaping @Sendable () -> String) {
            self.waiter = waiter
            self.remaining = count
            self.replies = []
            self.replies.reserveCapacity(count)
            self.deadline = deadline
            self.timeout = timeout
            self.command = command
        }
    }

    enum State {
        /// The socket is not connected yet: requests queue and are written (NIO holds the bytes).
        case connecting(CircularBuffer<Request>)
        case active(CircularBuffer<Request>)
        /// Closing after `error`; everything was failed with it.
        case closing(RedisError)
        case closed(RedisError)
    }

    private var state: State
    /// Queued requests with a command marked ``RESPCommand/wantsToken``.
    private var tokenRequests = 0
    /// When the one scheduled timeout check fires, if one is scheduled.
    package private(set) var timerDeadline: NIODeadline?
    let endpoint: String

    package init(endpoint: String, active: Bool) {
        self.endpoint = endpoint
        self.state = active ? .active([]) : .connecting([])
    }

    package enum SendAction {
        /// Write the request's bytes; if `armTimer` is set, (re)schedule the timeout check then.
        case write(armTimer: NIODeadline?)
        /// The connection is gone: fail the waiter at once.
        case fail(Waiter, RedisError)
    }

    package enum ReplyAction {
        /// The reply was part of an unfinished batch.
        case none
        /// The front batch is complete.
        case succeed(Waiter, [RESPValue], armTimer: NIODeadline?)
        /// Fail all these waiters with `error` and close the channel.
        case failAllAndClose([Waiter], RedisError)
    }

    package enum TimerAction {
        case none
        case arm(NIODeadline)
        case failAllAndClose([Waiter], RedisError)
    }

    /// Whether the next reply is wanted undecoded (``RESPParser/nextToken()``): the oldest
    /// request's next command is marked ``RESPCommand/wantsToken``.
    package var nextReplyWantsToken: Bool {
        guard tokenRequests > 0 else { return false } // the common case: nothing to look up
        switch state {
        case let .connecting(queue), let .active(queue):
            guard let front = queue.first, let tokens = front.tokens else { return false }
            let index = front.replies.count
            return index < tokens.count && tokens[index]
        case .closing, .closed:
            return false
        }
    }

    package var isOpen: Bool {
        switch state {
        case .connecting, .active: true
        case .closing, .closed: false
        }
    }

    /// Requests waiting for replies.
    package var pendingCount: Int {
        switch state {
        case let .connecting(queue), let .active(queue): queue.count
        case .closing, .closed: 0
        }
    }

    package mutating func channelActive() {
        if case let .connecting(queue) = state { state = .active(queue) }
    }

    /// A request is to be written.
    package mutating func send(_ request: Request) -> SendAction {
        switch state {
        case var .connecting(queue), var .active(queue):
            let wasEmpty = queue.isEmpty
            let connecting = if case .connecting = state { true } else { false }
            state = .closed(.connectionClosed(endpoint)) // not a copy-on-write of the queue
            queue.append(request)
            if request.tokens != nil { tokenRequests += 1 }
            state = connecting ? .connecting(queue) : .active(queue)
            // The timer follows the oldest request; a new oldest may need it earlier.
            if wasEmpty, timerDeadline.map({ request.deadline < $0 }) ?? true {
                timerDeadline = request.deadline
                return .write(armTimer: request.deadline)
            }
            return .write(armTimer: nil)
        case .closing, .closed:
            return .fail(request.waiter, .connectionClosed(endpoint))
        }
    }

    /// A complete reply was parsed.
    package mutating func receive(_ value: RESPValue) -> ReplyAction {
        switch state {
        case var .active(queue), var .connecting(queue):
            state = .closed(.connectionClosed(endpoint))
            guard var front = queue.popFirst() else {
                let error = RedisError.protocolError("a reply arrived that no command asked for")
                state = .closing(error)
                return .failAllAndClose([], error)
            }
            front.replies.append(value)
            front.remaining -= 1
            if front.remaining > 0 {
                queue.prepend(front)
                state = .active(queue)
                return .none
            }
            state = .active(queue)
            if front.tokens != nil { tokenRequests -= 1 }
            var arm: NIODeadline?
            if let next = queue.first, let armed = timerDeadline, next.deadline < armed {
                timerDeadline = next.deadline
                arm = next.deadline
            }
            return .succeed(front.waiter, front.replies, armTimer: arm)
        case .closing, .closed:
            return .none
        }
    }

    /// The bytes were not valid RESP.
    package mutating func protocolError(_ error: RESPParseError) -> ReplyAction {
        .failAllAndClose(failAll(.protocolError(error.description), closing: true), .protocolError(error.description))
    }

    /// The scheduled timeout check ran at `now`.
    package mutating func timerFired(now: NIODeadline) -> TimerAction {
        timerDeadline = nil
        switch state {
        case let .connecting(queue), let .active(queue):
            guard let front = queue.first else { return .none }
            guard front.deadline <= now else {
                timerDeadline = front.deadline
                return .arm(front.deadline)
            }
            let error = RedisError.timedOut(endpoint: endpoint, command: front.command(), after: front.timeout)
            return .failAllAndClose(failAll(error, closing: true), error)
        case .closing, .closed:
            return .none
        }
    }

    /// An error was caught in the pipeline: close, failing everything.
    package mutating func errorCaught() -> [Waiter] {
        failAll(.connectionClosed(endpoint), closing: true)
    }

    /// The channel closed: everything still waiting fails with ``RedisError/connectionClosed(_:)``.
    package mutating func channelInactive() -> [Waiter] {
        failAll(.connectionClosed(endpoint), closing: false)
    }

    private mutating func failAll(_ error: RedisError, closing: Bool) -> [Waiter] {
        switch state {
        case let .connecting(queue), let .active(queue):
            state = closing ? .closing(error) : .closed(error)
            timerDeadline = nil
            tokenRequests = 0
            return queue.map(\.waiter)
        case let .closing(previous):
            if !closing { state = .closed(previous) }
            return []
        case .closed:
            return []
        }
    }
}
