import Hummingbird
import HummingbirdCore
import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The HTTP/1.1 server of the command's own pages: the Prometheus endpoints (the command's
/// `MetricsServer`) and the web dashboard (``DashboardServer``), on Hummingbird 2. Each
/// request, its body read whole (at most ``Limits/maxBodyBytes``, within
/// ``Limits/bodyTimeout``), goes to one handler; keep-alive is honoured. Hummingbird closes a
/// connection idle for ``Limits/idleTimeout`` (a head sent slowly counts as idle: nothing is
/// handed on before the whole head), caps the open connections (``Limits/maxConnections``;
/// beyond it new ones wait in the backlog) and bounds the head (``Limits/maxHeaderBytes``);
/// SwiftNIO's accept backoff pauses accepting for a second on EMFILE/ENFILE instead of
/// spinning. It serves until the task running ``run(_:)`` is cancelled.
package struct HTTPServer: Sendable {
    /// One request: method, path (without the query), query parameters, headers, body, and
    /// whether it came in over a loopback connection (the address it reached is 127.0.0.0/8
    /// or ::1).
    package struct Request: Sendable {
        package var method: HTTPMethod
        package var path: String
        package var query: [String: String]
        package var headers: HTTPHeaders
        package var body: [UInt8]
        package var isKeepAlive: Bool
        package var viaLoopback: Bool = false
    }

    /// One response.
    package struct Response: Sendable {
        package var status: HTTPResponseStatus
        package var contentType: String
        package var body: [UInt8]
        package var headers: [(String, String)] = []

        package init(_ status: HTTPResponseStatus, contentType: String = "text/plain; charset=utf-8", body: [UInt8],
             headers: [(String, String)] = []) {
            self.status = status
            self.contentType = contentType
            self.body = body
            self.headers = headers
        }

        package init(_ status: HTTPResponseStatus, text: String) {
            self.init(status, body: Array(text.utf8))
        }
    }

    package typealias Handler = @Sendable (Request) async -> Response

    /// What one server allows a client.
    package struct Limits: Sendable {
        /// A connection with no request in progress for this long is closed.
        var idleTimeout: Duration = .seconds(30)
        /// A request body must arrive whole within this long (else 408 and the connection closes).
        var bodyTimeout: Duration = .seconds(10)
        /// Most connections open at once; further ones wait in the backlog until one closes.
        var maxConnections = 256
        /// Bytes of a request head (all header fields) at most; a longer one is refused (400).
        var maxHeaderBytes = 16 << 10
        /// Request bodies longer than this are refused (413).
        var maxBodyBytes = HTTPServer.maxBodyBytes

        /// The defaults (`idleSeconds`: the idle timeout), with the connection cap lowered to
        /// fit the process's open-file limit: what the limit leaves beside the descriptors
        /// open now (Redis connections, the listener to come) less a reserve of a quarter of
        /// the limit and 16 (more Redis connections, files), so that accepting does not run
        /// out of descriptors.
        package static func current(idleSeconds: Duration? = nil) -> Limits {
            var limits = Limits()
            if let idleSeconds { limits.idleTimeout = idleSeconds }
            var limit = rlimit()
            if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max {
                let soft = Int(clamping: limit.rlim_cur)
                let usable = soft - openDescriptors() - soft / 4 - 16
                limits.maxConnections = Swift.max(4, Swift.min(limits.maxConnections, usable))
            }
            return limits
        }

        /// The descriptors this process has open (the entries of /proc/self/fd; 0 when it
        /// cannot be read). Bounded by the open-file limit.
        static func openDescriptors() -> Int {
            guard let directory = opendir("/proc/self/fd") else { return 0 }
            defer { closedir(directory) }
            var count = 0
            while readdir(directory) != nil { count += 1 }
            return Swift.max(0, count - 3)  // ".", ".." and the directory's own descriptor
        }
    }

    /// Request bodies longer than this are refused (413).
    static let maxBodyBytes = 64 << 10

    private let started: Started
    private let handlerBox: HandlerBox
    /// The bound port (the chosen one when asked for port 0).
    package let port: Int

    /// The running Hummingbird application and its task.
    private final class Started: Sendable {
        let task: Task<Void, any Error>
        init(task: Task<Void, any Error>) { self.task = task }
    }

    /// Binds `host:port` and starts accepting (requests wait until ``run(_:)`` gives the
    /// handler); throws ``BindFailure`` when it cannot bind.
    package static func bind(host: String, port: Int, limits: Limits = .current()) async throws -> HTTPServer {
        let handlerBox = HandlerBox()
        let (bound, boundContinuation) = AsyncStream.makeStream(of: Int.self)
        let configuration = ApplicationConfiguration(
            address: .hostname(host, port: port), serverName: nil, backlog: 64, reuseAddress: true,
            availableConnectionsDelegate: MaximumAvailableConnections(limits.maxConnections))
        var http1 = HTTP1Channel.Configuration(idleTimeout: TimeAmount(limits.idleTimeout))
        http1.httpDecoder = .init(maxHeaderFieldSize: limits.maxHeaderBytes, maxHeaderListSize: limits.maxHeaderBytes,
                                  maxHeaderFieldCount: 100)
        var quiet = Logger(label: "workqueue.http")
        quiet.logLevel = .critical
        let application = Application(
            responder: Responder(handlerBox: handlerBox, limits: limits),
            server: .http1(configuration: http1),
            configuration: configuration,
            onServerRunning: { channel in
                boundContinuation.yield(channel.localAddress?.port ?? port)
                boundContinuation.finish()
            },
            logger: quiet)
        // Detached: the server must not inherit the caller's task-local graceful-shutdown
        // context (a `work` service's): it stops when ``run(_:)`` is cancelled, and only then.
        let task = Task.detached {
            defer { boundContinuation.finish() }
            try await application.run()
        }
        var iterator = bound.makeAsyncIterator()
        if let actual = await iterator.next() {
            return HTTPServer(started: Started(task: task), port: actual, handlerBox: handlerBox)
        }
        task.cancel()
        do {
            try await task.value
            throw BindFailure(reason: "the server stopped before it was listening")
        } catch let error as BindFailure {
            throw error
        } catch {
            throw BindFailure(reason: "\(error)")
        }
    }

    /// Why ``bind(host:port:limits:)`` could not listen (the command names its flag and port
    /// around `reason`).
    package struct BindFailure: Error, Sendable {
        /// What went wrong, as the server reported it.
        package var reason: String
    }

    private init(started: Started, port: Int, handlerBox: HandlerBox) {
        self.started = started
        self.port = port
        self.handlerBox = handlerBox
    }

    /// Serves requests with `handler` until cancelled; then stops the server (closing the
    /// listener and every connection).
    package func run(_ handler: @escaping Handler) async {
        handlerBox.set(handler)
        let task = started.task
        await withTaskCancellationHandler {
            _ = try? await task.value
        } onCancel: {
            task.cancel()
        }
    }

    /// The handler, set once ``run(_:)`` starts (requests arriving before wait for it).
    private final class HandlerBox: Sendable {
        private let state = Mutex<(handler: Handler?, waiters: [CheckedContinuation<Handler, Never>])>((nil, []))

        func set(_ handler: @escaping Handler) {
            let waiters = state.withLock { state in
                state.handler = handler
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume(returning: handler) }
        }

        func get() async -> Handler {
            if let handler = state.withLock({ $0.handler }) { return handler }
            return await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> Handler? in
                    if let handler = state.handler { return handler }
                    state.waiters.append(continuation)
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }
    }

    /// The request context: Hummingbird's, plus whether the connection reached a loopback
    /// address.
    struct Context: RequestContext {
        var coreContext: CoreRequestContextStorage
        let viaLoopback: Bool

        init(source: ApplicationRequestContextSource) {
            coreContext = .init(source: source)
            viaLoopback = HTTPServer.isLoopback(source.channel.localAddress)
        }
    }

    /// Whether a socket address is a loopback one (127.0.0.0/8, ::1, ::ffff:127.x.y.z).
    static func isLoopback(_ address: SocketAddress?) -> Bool {
        guard let ip = address?.ipAddress else { return false }
        let lower = ip.lowercased()
        return lower.hasPrefix("127.") || lower == "::1" || lower.hasPrefix("::ffff:127.")
    }

    private struct Responder: HTTPResponder {
        let handlerBox: HandlerBox
        let limits: Limits

        func respond(to request: Hummingbird.Request, context: Context) async throws -> Hummingbird.Response {
            let method = HTTPMethod(rawValue: request.method.rawValue)
            var headers = HTTPHeaders()
            // HTTP types carry the Host header as the request's authority, not among its fields.
            if let authority = request.head.authority { headers.add(name: "Host", value: authority) }
            for field in request.headers { headers.add(name: field.name.rawName, value: field.value) }
            let keepAlive = !(headers.first(name: "Connection")?.lowercased().contains("close") ?? false)
            let response: Response
            switch await Self.collect(request.body, limits: limits) {
            case .success(let body):
                let handler = await handlerBox.get()
                var parsed = HTTPServer.request(method: method, uri: request.uri.string, headers: headers, body: body,
                                                isKeepAlive: keepAlive)
                parsed.viaLoopback = context.viaLoopback
                response = await handler(parsed)
            case .failure(.tooLong):
                response = Response(.payloadTooLarge, text: "the request body is over \(limits.maxBodyBytes) bytes\n")
            case .failure(.slow):
                response = Response(.requestTimeout, text: "the request body did not arrive within \(limits.bodyTimeout)\n")
            case .failure(.broken):
                response = Response(.badRequest, text: "the request body could not be read\n")
            }
            return Self.convert(response, method: request.method)
        }

        enum BodyFailure: Error { case tooLong, slow, broken }

        /// The body, read whole within the limits.
        static func collect(_ body: RequestBody, limits: Limits) async -> Result<[UInt8], BodyFailure> {
            await withTaskGroup(of: Result<[UInt8], BodyFailure>?.self) { group in
                group.addTask {
                    do {
                        var buffer = try await body.collect(upTo: limits.maxBodyBytes)
                        return .success(buffer.readBytes(length: buffer.readableBytes) ?? [])
                    } catch is NIOTooManyBytesError {
                        return .failure(.tooLong)
                    } catch {
                        return .failure(.broken)
                    }
                }
                group.addTask {
                    try? await Task.sleep(for: limits.bodyTimeout)
                    return Task.isCancelled ? nil : .failure(.slow)
                }
                var outcome: Result<[UInt8], BodyFailure> = .failure(.broken)
                if let first = await group.next(), let first { outcome = first }
                group.cancelAll()
                return outcome
            }
        }

        static func convert(_ response: Response, method: HTTPRequest.Method) -> Hummingbird.Response {
            var fields = HTTPFields()
            if let name = HTTPField.Name("Content-Type") { fields[name] = response.contentType }
            for (name, value) in response.headers {
                if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
            }
            let status = HTTPResponse.Status(code: Int(response.status.code), reasonPhrase: response.status.reasonPhrase)
            let buffer = ByteBuffer(bytes: response.body)
            if method == .head {
                fields[.contentLength] = "\(response.body.count)"
                return Hummingbird.Response(status: status, headers: fields, body: .init())
            }
            return Hummingbird.Response(status: status, headers: fields, body: .init(byteBuffer: buffer))
        }
    }

    static func request(method: HTTPMethod, uri: String, headers: HTTPHeaders, body: [UInt8], isKeepAlive: Bool) -> Request {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = parts.first.map(String.init) ?? uri
        var query: [String: String] = [:]
        if parts.count > 1 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard let key = kv.first.flatMap({ percentDecoded($0) }) else { continue }
                query[key] = kv.count > 1 ? percentDecoded(kv[1]) ?? "" : ""
            }
        }
        return Request(method: method, path: path, query: query, headers: headers, body: body, isKeepAlive: isKeepAlive)
    }

    /// `%XX` and `+` decoded; nil when the result is not UTF-8.
    static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var index = text.utf8.startIndex
        let utf8 = text.utf8
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%"), let first = utf8.index(index, offsetBy: 1, limitedBy: utf8.endIndex),
               let second = utf8.index(index, offsetBy: 2, limitedBy: utf8.endIndex), second < utf8.endIndex,
               let value = UInt8(String(decoding: utf8[first...second], as: UTF8.self), radix: 16) {
                bytes.append(value)
                index = utf8.index(after: second)
                continue
            }
            bytes.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
            index = utf8.index(after: index)
        }
        return String(validating: bytes, as: UTF8.self)
    }
}
