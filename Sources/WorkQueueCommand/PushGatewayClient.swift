import NIOCore
import NIOHTTP1
import NIOPosix

/// A Pushgateway address: `http://host[:port][/path]` (no TLS).
struct PushGatewayURL: Sendable, CustomStringConvertible {
    var host: String
    var port: Int
    var path: String

    init(_ text: String) throws {
        let invalid = CommandError.invalid(source: Catalog.metricsPush.either, value: text,
                                           expected: "http://HOST[:PORT][/PATH], e.g. http://pushgateway:9091")
        guard text.hasPrefix("http://") else { throw invalid }
        let rest = text.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        var path = String(rest.dropFirst(authority.count))
        while path.hasSuffix("/") { path.removeLast() }
        let parts = authority.split(separator: ":", omittingEmptySubsequences: false)
        guard let host = parts.first, !host.isEmpty, parts.count <= 2 else { throw invalid }
        var port = 80
        if parts.count == 2 {
            guard let value = Int(parts[1]), (1...65535).contains(value) else { throw invalid }
            port = value
        }
        self.host = String(host)
        self.port = port
        self.path = path
    }

    var description: String { "http://\(host):\(port)\(path)" }
}

/// Pushes metrics in the text format to a Prometheus Pushgateway with one HTTP/1.1 PUT.
enum PushGatewayClient {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// PUTs `body` to `URL/metrics/job/<job>/instance/<instance>`; throws unless the answer is 2xx.
    static func push(_ body: String, to url: PushGatewayURL, job: String, instance: String,
                     timeout: Duration = .seconds(10)) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .connect(host: url.host, port: url.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        let target = "\(url.path)/metrics/job/\(escape(job))/instance/\(escape(instance))"
        let status = try await withThrowingTaskGroup(of: HTTPResponseStatus?.self) { group in
            group.addTask {
                try await channel.executeThenClose { inbound, outbound in
                    let bytes = ByteBuffer(string: body)
                    var headers = HTTPHeaders()
                    headers.add(name: "Host", value: "\(url.host):\(url.port)")
                    headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
                    headers.add(name: "Content-Length", value: "\(bytes.readableBytes)")
                    headers.add(name: "Connection", value: "close")
                    try await outbound.write(.head(HTTPRequestHead(version: .http1_1, method: .PUT, uri: target, headers: headers)))
                    try await outbound.write(.body(.byteBuffer(bytes)))
                    try await outbound.write(.end(nil))
                    for try await part in inbound {
                        if case .head(let head) = part { return head.status }
                    }
                    return nil
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw Failure(description: "no answer within \(timeout)")
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { return nil as HTTPResponseStatus? }
            return first
        }
        guard let status else { throw Failure(description: "the connection closed without an answer") }
        guard (200..<300).contains(status.code) else { throw Failure(description: "the Pushgateway answered \(status.code) \(status.reasonPhrase)") }
    }

    /// Percent-escapes a path segment (anything but unreserved characters).
    static func escape(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let digits = Array("0123456789ABCDEF".unicodeScalars)
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(digits[Int(byte >> 4)])
                out.unicodeScalars.append(digits[Int(byte & 0xF)])
            }
        }
        return out
    }
}
