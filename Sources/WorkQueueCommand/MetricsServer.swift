import NIOHTTP1
import WorkQueueDashboard

/// A minimal HTTP/1.1 server for Prometheus scrapes: `GET /metrics` answers with what `body`
/// returns (the text exposition format); anything else is 404 (or 405 for a method other than
/// GET/HEAD). Keep-alive is honoured. It serves until the task running ``run(_:)`` is cancelled.
struct MetricsServer: Sendable {
    /// Makes the page for one scrape: a status and the body.
    typealias Page = @Sendable () async -> (status: HTTPResponseStatus, body: String)

    private let server: HTTPServer
    /// The bound port (the chosen one when asked for port 0).
    var port: Int { server.port }

    /// Binds `host:port`; throws ``CommandError`` naming the port when it cannot.
    static func bind(host: String, port: Int, flagName: String) async throws -> MetricsServer {
        MetricsServer(server: try await HTTPServer.bind(host: host, port: port, flagName: flagName))
    }

    private init(server: HTTPServer) {
        self.server = server
    }

    /// Serves scrapes until cancelled; then closes the listener.
    func run(_ page: @escaping Page) async {
        await server.run { request in await Self.respond(to: request, page: page) }
    }

    /// The answer to one request: the metrics at `/metrics`, else 404 or 405.
    static func respond(to request: HTTPServer.Request, page: Page) async -> HTTPServer.Response {
        if request.method != .GET && request.method != .HEAD {
            return HTTPServer.Response(.methodNotAllowed, text: "only GET and HEAD are served\n")
        }
        guard request.path == "/metrics" else { return HTTPServer.Response(.notFound, text: "not found: metrics are at /metrics\n") }
        let (status, body) = await page()
        return HTTPServer.Response(status, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(body.utf8))
    }
}

extension HTTPServer {
    /// Binds `host:port` (the dashboard module's `HTTPServer.bind(host:port:limits:)`); throws
    /// ``CommandError/metricsServer(flag:port:error:)`` naming the flag and port when it cannot.
    static func bind(host: String, port: Int, flagName: String, limits: Limits = .current()) async throws -> HTTPServer {
        do {
            return try await bind(host: host, port: port, limits: limits)
        } catch let failure as HTTPServer.BindFailure {
            throw CommandError.metricsServer(flag: flagName, port: port, error: failure.reason)
        }
    }
}
