import NIOCore
import NIOHTTP1
import NIOPosix

/// A minimal HTTP/1.1 server for Prometheus scrapes: `GET /metrics` answers with what `body`
/// returns (the text exposition format); anything else is 404 (or 405 for a method other than
/// GET/HEAD). Keep-alive is honoured. It serves until the task running ``run(_:)`` is cancelled.
struct MetricsServer: Sendable {
    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>
    /// Makes the page for one scrape: a status and the body.
    typealias Page = @Sendable () async -> (status: HTTPResponseStatus, body: String)

    private let listener: NIOAsyncChannel<Connection, Never>
    /// The bound port (the chosen one when asked for port 0).
    let port: Int

    /// Binds `host:port`; throws ``CommandError`` naming the port when it cannot.
    static func bind(host: String, port: Int, flagName: String) async throws -> MetricsServer {
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
            return MetricsServer(listener: listener, port: listener.channel.localAddress?.port ?? port)
        } catch {
            throw CommandError.metricsServer(flag: flagName, port: port, error: "\(error)")
        }
    }

    private init(listener: NIOAsyncChannel<Connection, Never>, port: Int) {
        self.listener = listener
        self.port = port
    }

    /// Serves scrapes until cancelled; then closes the listener.
    func run(_ page: @escaping Page) async {
        let channel = listener.channel
        await withTaskCancellationHandler {
            await withDiscardingTaskGroup { group in
                do {
                    try await listener.executeThenClose { inbound in
                        for try await connection in inbound {
                            group.addTask { await Self.serve(connection, page) }
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

    private static func serve(_ connection: Connection, _ page: Page) async {
        let channel = connection.channel
        await withTaskCancellationHandler {
            do {
                try await connection.executeThenClose { inbound, outbound in
                    var request: HTTPRequestHead?
                    for try await part in inbound {
                        switch part {
                        case .head(let head):
                            request = head
                        case .body:
                            continue
                        case .end:
                            guard let head = request else { continue }
                            request = nil
                            try await respond(to: head, outbound: outbound, page: page)
                            if !head.isKeepAlive { return }
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

    private static func respond(to head: HTTPRequestHead, outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>,
                                page: Page) async throws {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let status: HTTPResponseStatus
        let body: String
        var contentType = "text/plain; charset=utf-8"
        if head.method != .GET && head.method != .HEAD {
            (status, body) = (.methodNotAllowed, "only GET and HEAD are served\n")
        } else if path == "/metrics" {
            (status, body) = await page()
            contentType = "text/plain; version=0.0.4; charset=utf-8"
        } else {
            (status, body) = (.notFound, "not found: metrics are at /metrics\n")
        }
        let bytes = ByteBuffer(string: body)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(bytes.readableBytes)")
        headers.add(name: "Connection", value: head.isKeepAlive ? "keep-alive" : "close")
        try await outbound.write(.head(HTTPResponseHead(version: head.version, status: status, headers: headers)))
        if head.method != .HEAD {
            try await outbound.write(.body(.byteBuffer(bytes)))
        }
        try await outbound.write(.end(nil))
    }
}
