#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import NIOHTTP1

/// The web dashboard's routes, served by ``HTTPServer`` for `workqueue dashboard` and
/// `status --serve`:
///
/// - `GET /`, `/dashboard.js`, `/dashboard.css`, `/favicon.svg`: the page, embedded in the
///   binary (``DashboardAssets``), under a strict Content-Security-Policy (scripts and styles
///   from these paths only, no inline code, no other origin);
/// - `GET /api/snapshot`: every queue's snapshot as JSON (``DashboardHub/snapshot()``: read from
///   Redis at most once per interval, whatever the number of viewers);
/// - `GET /api/dead?queue=Q&shard=S&start=N`: a later page of dead letters;
/// - `POST /api/dead/retry`, `/api/dead/retry-all`, `/api/dead/purge`, `/api/queue/pause`,
///   `/api/queue/resume`, `/api/queue/cancel`: the actions, with a JSON body and
///   `Authorization: Bearer TOKEN` (the content of `--token-file`).
package enum DashboardServer {
    /// Every response's security headers.
    static let securityHeaders: [(String, String)] = [
        ("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
            + "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
    ]

    /// Who may read the page and its API (which show item bytes: dead letters, leases).
    package struct Access: Sendable {
        /// The server listens on a loopback address only.
        var loopbackBound: Bool
        /// Host names (lowercase, no port) served besides the loopback ones (`--allow-host`).
        var allowedHosts: Set<String> = []

        /// Access for a server bound to a loopback address or not, and the host names it also answers to.
        package init(loopbackBound: Bool, allowedHosts: Set<String> = []) {
            self.loopbackBound = loopbackBound
            self.allowedHosts = allowedHosts
        }

        /// `--allow-host` (comma-separated names) parsed.
        package static func hosts(_ text: String?) -> Set<String> {
            Set((text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty })
        }
    }

    /// Answers one request. Every route shows item bytes or leads to them, so whoever the
    /// request comes from must be let in by `access`: a loopback host named in the Host header
    /// (bound to loopback: which keeps a web page elsewhere from reading it through DNS
    /// rebinding; bound elsewhere: and the connection reached a loopback address), a host of
    /// the allow-list, or (bound elsewhere) the token.
    package static func respond(to request: HTTPServer.Request, hub: DashboardHub, access: Access) async -> HTTPServer.Response {
        var response: HTTPServer.Response
        if let refusal = await refusal(request, hub: hub, access: access) {
            response = refusal
        } else {
            response = await route(request, hub: hub)
        }
        response.headers += securityHeaders
        return response
    }

    /// Why `request` may not see the dashboard (nil: it may).
    static func refusal(_ request: HTTPServer.Request, hub: DashboardHub, access: Access) async -> HTTPServer.Response? {
        let host = request.headers.first(name: "Host")
        let loopbackHost = host.map(isLoopback(host:)) ?? false
        if let host, access.allowedHosts.contains(hostName(host)) { return nil }
        if access.loopbackBound {
            // No Host header (HTTP/1.0): only loopback clients can reach a loopback address.
            if host == nil || loopbackHost { return nil }
            return DashboardHub.error(.forbidden, "this dashboard is bound to a loopback address and answers only to localhost, "
                + "127.0.0.1 or [::1]; to reach it under another name, name it with --allow-host (or start it with --bind)")
        }
        if request.viaLoopback && (host == nil || loopbackHost) { return nil }
        if await hub.refusal(authorization: request.headers.first(name: "Authorization")) == nil { return nil }
        return DashboardHub.error(.forbidden, "this server listens on a non-loopback address and shows the dashboard (item bytes) "
            + "only to http://127.0.0.1:PORT/ on its own machine, to the hosts named by --allow-host (WORKQUEUE_DASHBOARD_ALLOW_HOSTS), "
            + "or with the token (Authorization: Bearer, the content of --token-file); /metrics is open to all")
    }

    /// A Host header's name, lowercase, without its port.
    static func hostName(_ host: String) -> String {
        var name = Substring(host.lowercased())
        if name.hasPrefix("["), let end = name.firstIndex(of: "]") { return String(name[...end]) }
        if let colon = name.firstIndex(of: ":") { name = name[..<colon] }
        return String(name)
    }

    private static func route(_ request: HTTPServer.Request, hub: DashboardHub) async -> HTTPServer.Response {
        switch (request.method, request.path) {
        case (.GET, "/"), (.HEAD, "/"), (.GET, "/index.html"):
            return asset(DashboardAssets.html, type: "text/html; charset=utf-8")
        case (.GET, "/dashboard.js"):
            return asset(DashboardAssets.script, type: "text/javascript; charset=utf-8")
        case (.GET, "/dashboard.css"):
            return asset(DashboardAssets.style, type: "text/css; charset=utf-8")
        case (.GET, "/favicon.svg"), (.GET, "/favicon.ico"):
            return asset(DashboardAssets.icon, type: "image/svg+xml")
        case (.GET, "/api/snapshot"):
            return DashboardHub.json(await hub.snapshot())
        case (.GET, "/api/dead"):
            guard let queue = request.query["queue"], let start = Int(request.query["start"] ?? "0"),
                  let shard = Int(request.query["shard"] ?? "0") else {
                return DashboardHub.error(.badRequest, "use /api/dead?queue=NAME&shard=S&start=N")
            }
            return await hub.deadLetters(queue: queue, shard: shard, start: start)
        case (.POST, let path) where path.hasPrefix("/api/dead/") || path.hasPrefix("/api/queue/"):
            if let refusal = await hub.refusal(authorization: request.headers.first(name: "Authorization")) { return refusal }
            // A JSON body only: a form of another site cannot send one without a CORS preflight,
            // which this server never grants.
            guard request.headers.first(name: "Content-Type")?.lowercased().hasPrefix("application/json") == true else {
                return DashboardHub.error(.unsupportedMediaType, "send the action's body as application/json")
            }
            if path.hasPrefix("/api/queue/") { return await hub.control(String(path.dropFirst("/api/queue/".count)), body: request.body) }
            return await hub.act(String(path.dropFirst("/api/dead/".count)), body: request.body)
        case (_, "/api/snapshot"), (_, "/api/dead"), (_, "/"):
            return DashboardHub.error(.methodNotAllowed, "\(request.method) is not served at \(request.path)")
        default:
            return HTTPServer.Response(.notFound, text: "not found: the dashboard is at /\n")
        }
    }

    private static func asset(_ text: String, type: String) -> HTTPServer.Response {
        HTTPServer.Response(.ok, contentType: type, body: Array(text.utf8), headers: [("Cache-Control", "no-cache")])
    }

    /// Whether a Host header names a loopback host (any port).
    static func isLoopback(host: String) -> Bool {
        var name = Substring(host.lowercased())
        if name.hasPrefix("[") {
            guard let end = name.firstIndex(of: "]") else { return false }
            name = name[name.index(after: name.startIndex)..<end]
            return name == "::1"
        }
        if let colon = name.firstIndex(of: ":") { name = name[..<colon] }
        return name == "localhost" || name == "127.0.0.1" || name.hasSuffix(".localhost")
    }

    /// Whether an address to bind is a loopback one.
    package static func isLoopback(bind address: String) -> Bool {
        address == "localhost" || address == "::1" || address.hasPrefix("127.")
    }
}
