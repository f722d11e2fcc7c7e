import Foundation
import Testing
import TestSupport

/// A strict check of the Prometheus text exposition format (version 0.0.4) and a reader of its
/// samples, for the tests.
enum PrometheusText {
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    /// The samples of `text`; throws naming the first line that is not in the format.
    static func parse(_ text: String) throws -> [Sample] {
        var samples: [Sample] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            func bad() -> Error { Failure(description: "line \(index + 1) is not Prometheus text: '\(line)'") }
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                let words = line.split(separator: " ", maxSplits: 3)
                if words.count >= 2, words[1] == "TYPE" {
                    guard words.count == 4, isName(words[2]),
                          ["counter", "gauge", "histogram", "summary", "untyped"].contains(words[3]) else { throw bad() }
                } else if words.count >= 2, words[1] == "HELP" {
                    guard words.count >= 3, isName(words[2]) else { throw bad() }
                }
                continue
            }
            var rest = Substring(line)
            let name = rest.prefix { $0 != "{" && $0 != " " }
            guard isName(name) else { throw bad() }
            rest = rest.dropFirst(name.count)
            var labels: [String: String] = [:]
            if rest.first == "{" {
                rest = rest.dropFirst()
                while rest.first != "}" {
                    let key = rest.prefix { $0 != "=" }
                    guard isLabelName(key) else { throw bad() }
                    rest = rest.dropFirst(key.count)
                    guard rest.hasPrefix("=\"") else { throw bad() }
                    rest = rest.dropFirst(2)
                    var value = ""
                    while let char = rest.first, char != "\"" {
                        rest = rest.dropFirst()
                        if char == "\\" {
                            guard let escaped = rest.first, ["\\", "\"", "n"].contains(escaped) else { throw bad() }
                            value.append(escaped == "n" ? "\n" : escaped)
                            rest = rest.dropFirst()
                        } else {
                            value.append(char)
                        }
                    }
                    guard rest.first == "\"" else { throw bad() }
                    rest = rest.dropFirst()
                    labels[String(key)] = value
                    if rest.first == "," { rest = rest.dropFirst() }
                }
                rest = rest.dropFirst()
            }
            guard rest.first == " " else { throw bad() }
            let fields = rest.dropFirst().split(separator: " ")
            guard (1...2).contains(fields.count), let value = number(fields[0]) else { throw bad() }
            if fields.count == 2, Int64(fields[1]) == nil { throw bad() }
            samples.append(Sample(name: String(name), labels: labels, value: value))
        }
        return samples
    }

    struct Failure: Error, CustomStringConvertible { var description: String }

    private static func isName(_ text: Substring) -> Bool {
        guard let first = text.first, first.isASCII, first.isLetter || first == "_" || first == ":" else { return false }
        return text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") }
    }

    private static func isLabelName(_ text: Substring) -> Bool {
        guard let first = text.first, first.isASCII, first.isLetter || first == "_" else { return false }
        return text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }

    private static func number(_ text: Substring) -> Double? {
        switch text {
        case "+Inf": .infinity
        case "-Inf": -.infinity
        case "NaN": .nan
        default: Double(text)
        }
    }

    /// `curl -sf URL`'s body, or a recorded failure.
    static func fetch(_ url: String, directory: String) async throws -> String {
        let (process, termination) = try await ChildProcess.run(
            "/usr/bin/env", ["curl", "-sS", "-f", "--max-time", "10", url], directory: directory, label: "curl-\(UUID().uuidString)")
        guard termination == .exited(0) else {
            throw Failure(description: "curl \(url) ended \(termination): \(process.stderr)")
        }
        return process.stdout
    }
}
