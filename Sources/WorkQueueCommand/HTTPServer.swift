import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 server on SwiftNIO for the command's own pages: the Prometheus endpoints
/// (``MetricsServer``) and the web dashboard (``DashboardServer``). Each request, its body
/// read whole (at most ``maxBodyBytes``), goes to one handler; keep-alive is honoured. It
/// serves until the task running ``run(_:)`` is cancelled.
struct HTTPServer: Sendable {
    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    /// One request: method, path (without the query), query parameters, headers and body.
    struct Request: Sendable {
        var method: HTTPMethod
        var path: String
        var query: [String: String]
        var headers: HTTPHeaders
        var body: [UInt8]
        var isKeepAlive: Bool
    }

    /// One response.
    struct Response: Sendable {
        var status: HTTPResponseStatus
        var contentType: String
        var body: [UInt8]
        var headers: [(String, String)] = []

        init(_ status: HTTPResponseStatus, contentType: String = "text/plain; charset=utf-8", body: [UInt8],
             headers: [(String, String)] = []) {
            self.status = status
            self.contentType = contentType
            self.body = body
            self.headers = headers
        }

        init(_ status: HTTPResponseStatus, text: String) {
            self.init(status, body: Array(text.utf8))
        }
    }

    typealias Handler = @Sendable (Request) async -> Response

    /// Request bodies longer than this are refused (413).
    static let maxBodyBytes = 64 << 10

    private let listener: NIOAsyncChannel<Connection, Never>
    /// The bound port (the chosen one when asked for port 0).
    let port: Int

    /// Binds `host:port`; throws ``CommandError`` naming the flag and port when it cannot.
    static func bind(host: String, port: Int, flagName: String) async throws -> HTTPServer {
        do {
            let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 64)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
            return HTTPServer(listener: listener, port: listener.channel.localAddress?.port ?? port)
        } catch {
            throw CommandError.metricsServer(flag: flagName, port: port, error: "\(error)")
        }
    }

    private init(listener: NIOAsyncChannel<Connection, Never>, port: Int) {
        self.listener = listener
        self.port = port
    }

    /// Serves requests until cancelled; then closes the listener.
    func run(_ handler: @escaping Handler) async {
        let channel = listener.channel
        await withTaskCancellationHandler {
            await withDiscardingTaskGroup { group in
                do {
                    try await listener.executeThenClose { inbound in
                        for try await connection in inbound {
                            group.addTask { await Self.serve(connection, handler) }
                        }
                    }
                } catch {
                    // The listener closed (cancellation): nothing more to accept.
                }
                group.cancelAll()
            }
        } onCancel: {
            channel.close(promise: nil)
        }
    }

    private static func serve(_ connection: Connection, _ handler: Handler) async {
        let channel = connection.channel
        await withTaskCancellationHandler {
            do {
                try await connection.executeThenClose { inbound, outbound in
                    var request: HTTPRequestHead?
                    var body: [UInt8] = []
                    var tooLong = false
                    for try await part in inbound {
                        switch part {
                        case .head(let head):
                            request = head
                            body = []
                            tooLong = false
                        case .body(var buffer):
                            if body.count + buffer.readableBytes > maxBodyBytes {
                                tooLong = true
                            } else if let bytes = buffer.readBytes(length: buffer.readableBytes) {
                                body += bytes
                            }
                        case .end:
                            guard let head = request else { continue }
                            request = nil
                            let response: Response
                            if tooLong {
                                response = Response(.payloadTooLarge, text: "the request body is over \(maxBodyBytes) bytes\n")
                            } else {
                                response = await handler(Self.request(head, body: body))
                            }
                            try await write(response, for: head, outbound: outbound)
                            if !head.isKeepAlive || tooLong { return }
                        }
                    }
                }
            } catch {
                // A client that went away: nothing to answer.
            }
        } onCancel: {
            channel.close(promise: nil)
        }
    }

    static func request(_ head: HTTPRequestHead, body: [UInt8]) -> Request {
        let parts = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = parts.first.map(String.init) ?? head.uri
        var query: [String: String] = [:]
        if parts.count > 1 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard let key = kv.first.flatMap({ percentDecoded($0) }) else { continue }
                query[key] = kv.count > 1 ? percentDecoded(kv[1]) ?? "" : ""
            }
        }
        return Request(method: head.method, path: path, query: query, headers: head.headers, body: body,
                       isKeepAlive: head.isKeepAlive)
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

    private static func write(_ response: Response, for head: HTTPRequestHead,
                              outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: "\(response.body.count)")
        headers.add(name: "Connection", value: head.isKeepAlive ? "keep-alive" : "close")
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        try await outbound.write(.head(HTTPResponseHead(version: head.version, status: response.status, headers: headers)))
        if head.method != .HEAD {
            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: response.body))))
        }
        try await outbound.write(.end(nil))
    }
}
