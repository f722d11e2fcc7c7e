import Logging
import NIOHTTP1
import Testing
@testable import WorkQueueDashboard

/// Who may read the dashboard (issue 26, defect 7): `status --serve` binds 0.0.0.0 for
/// Prometheus, and the dashboard on that port shows item bytes.
@Suite struct DashboardAccessTests {
    static func request(host: String?, viaLoopback: Bool, authorization: String? = nil, path: String = "/api/dead") -> HTTPServer.Request {
        var headers = HTTPHeaders()
        if let host { headers.add(name: "Host", value: host) }
        if let authorization { headers.add(name: "Authorization", value: authorization) }
        return HTTPServer.Request(method: .GET, path: path, query: ["queue": "q"], headers: headers, body: [], isKeepAlive: true,
                                  viaLoopback: viaLoopback)
    }

    static func allowed(_ request: HTTPServer.Request, _ access: DashboardServer.Access, token: String? = nil) async -> Bool {
        let hub = DashboardHub(queues: [], interval: .seconds(1), token: token, logger: Logger(label: "test"))
        return await DashboardServer.refusal(request, hub: hub, access: access) == nil
    }

    @Test func aNonLoopbackServerShowsItemsOnlyToLoopbackTheAllowListOrTheToken() async {
        let open = DashboardServer.Access(loopbackBound: false)
        // The recipe: a foreign Host over a loopback connection to a 0.0.0.0 server.
        #expect(await !Self.allowed(Self.request(host: "attacker.example", viaLoopback: true), open))
        #expect(await !Self.allowed(Self.request(host: "10.0.0.5:9090", viaLoopback: false), open))
        #expect(await !Self.allowed(Self.request(host: "127.0.0.1:9090", viaLoopback: false), open),
                "a loopback name over a non-loopback connection is a lie")
        #expect(await Self.allowed(Self.request(host: "127.0.0.1:9090", viaLoopback: true), open))
        #expect(await Self.allowed(Self.request(host: "localhost", viaLoopback: true), open))
        // The allow-list, and the token.
        let listed = DashboardServer.Access(loopbackBound: false, allowedHosts: DashboardServer.Access.hosts("Dash.Example, other"))
        #expect(await Self.allowed(Self.request(host: "dash.example:8080", viaLoopback: false), listed))
        #expect(await !Self.allowed(Self.request(host: "attacker.example", viaLoopback: false), listed))
        #expect(await Self.allowed(Self.request(host: "attacker.example", viaLoopback: false, authorization: "Bearer s3cret"), open,
                                   token: "s3cret"))
        #expect(await !Self.allowed(Self.request(host: "attacker.example", viaLoopback: false, authorization: "Bearer wrong"), open,
                                    token: "s3cret"))
    }

    @Test func aLoopbackServerKeepsItsHostCheckAndTakesTheAllowList() async {
        let loopback = DashboardServer.Access(loopbackBound: true)
        #expect(await Self.allowed(Self.request(host: "127.0.0.1:8080", viaLoopback: true), loopback))
        #expect(await Self.allowed(Self.request(host: "[::1]:8080", viaLoopback: true), loopback))
        #expect(await !Self.allowed(Self.request(host: "evil.example", viaLoopback: true), loopback))
        let listed = DashboardServer.Access(loopbackBound: true, allowedHosts: ["workqueue-dashboard"])
        #expect(await Self.allowed(Self.request(host: "workqueue-dashboard:8080", viaLoopback: true), listed))
    }
}
