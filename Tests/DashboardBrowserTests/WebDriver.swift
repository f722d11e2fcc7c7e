import Foundation
import TestSupport

/// A minimal W3C WebDriver client for a headless Chromium driven by `chromedriver`: each
/// command is one JSON request, sent with `curl` (as the other end-to-end tests fetch pages).
/// ``start(directory:)`` starts chromedriver on a free port and a browser session with a
/// profile of its own; ``stop()`` ends both, and ``kill()`` (synchronous, for `defer`) kills
/// whatever is left: chromedriver and every browser process using that profile.
final class WebDriver: @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let driver: ChildProcess
    let port: Int
    let session: String
    let profile: String
    private let directory: String
    private var counter = 0

    /// chromedriver and chromium from Debian's packages (`chromium-driver`, `chromium`), or nil
    /// when either is missing.
    static func locate() -> (driver: String, browser: String)? {
        guard let driver = try? LocalRedis.locate("chromedriver") else { return nil }
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            if let browser = try? LocalRedis.locate(name) { return (driver, browser) }
        }
        return nil
    }

    private init(driver: ChildProcess, port: Int, session: String, profile: String, directory: String) {
        self.driver = driver
        self.port = port
        self.session = session
        self.profile = profile
        self.directory = directory
    }

    /// Starts chromedriver and a headless browser session (window 1360 x 1700).
    static func start(directory: TemporaryDirectory, driverPath: String, browserPath: String) async throws -> WebDriver {
        let port = try LocalRedis.freePort()
        let driver = try ChildProcess(driverPath, ["--port=\(port)"], directory: directory.path, label: "chromedriver",
                                      keeping: directory)
        let profile = directory.path + "/chromium-profile"
        do {
            var ready = false
            for _ in 0..<200 {
                if let status = try? await request("GET", "http://127.0.0.1:\(port)/status", body: nil, directory: directory.path, label: "status"),
                   (status["value"] as? [String: Any])?["ready"] as? Bool == true {
                    ready = true
                    break
                }
                if driver.poll() != nil { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            guard ready else { throw Failure(description: "chromedriver did not become ready: \(driver.stderr) \(driver.stdout)") }
            let capabilities: [String: Any] = ["capabilities": ["alwaysMatch": [
                "browserName": "chrome",
                "goog:chromeOptions": [
                    "binary": browserPath,
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1360,1700",
                             "--user-data-dir=\(profile)", "--no-first-run", "--disable-extensions", "--hide-scrollbars",
                             "--force-device-scale-factor=1"],
                ],
            ]]]
            let reply = try await request("POST", "http://127.0.0.1:\(port)/session", body: capabilities, directory: directory.path,
                                          label: "session")
            guard let value = reply["value"] as? [String: Any], let session = value["sessionId"] as? String else {
                throw Failure(description: "no session: \(reply)")
            }
            return WebDriver(driver: driver, port: port, session: session, profile: profile, directory: directory.path)
        } catch {
            driver.send(SIGKILL)
            killBrowser(profile: profile)
            throw error
        }
    }

    /// Sends one command of this session; returns its `value`, throwing on a WebDriver error.
    @discardableResult
    func command(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> Any? {
        counter += 1
        let reply = try await Self.request(method, "http://127.0.0.1:\(port)/session/\(session)\(path)", body: body ?? (method == "POST" ? [:] : nil),
                                           directory: directory, label: "wd-\(counter)")
        if let value = reply["value"] as? [String: Any], let error = value["error"] as? String {
            throw Failure(description: "\(method) \(path): \(error): \(value["message"] as? String ?? "")")
        }
        return reply["value"] ?? nil
    }

    func navigate(_ url: String) async throws { try await command("POST", "/url", ["url": url]) }

    /// Runs JavaScript in the page (its `return` value comes back).
    func script(_ source: String, _ arguments: [Any] = []) async throws -> Any? {
        try await command("POST", "/execute/sync", ["script": source, "args": arguments])
    }

    /// The element reference of the first match of a CSS selector.
    func find(_ selector: String) async throws -> String {
        guard let value = try await command("POST", "/element", ["using": "css selector", "value": selector]) as? [String: Any],
              let id = value.values.first as? String else { throw Failure(description: "no element \(selector)") }
        return id
    }

    func click(_ selector: String) async throws { try await command("POST", "/element/\(try await find(selector))/click") }

    func type(_ selector: String, _ text: String) async throws {
        try await command("POST", "/element/\(try await find(selector))/value", ["text": text])
    }

    /// Answers the page's open `confirm` dialog: OK (`accept`) or Cancel.
    func answerDialog(accept: Bool) async throws { try await command("POST", accept ? "/alert/accept" : "/alert/dismiss") }

    /// A PNG of the viewport.
    func screenshot() async throws -> Data {
        guard let base64 = try await command("GET", "/screenshot") as? String, let data = Data(base64Encoded: base64) else {
            throw Failure(description: "no screenshot")
        }
        return data
    }

    /// Waits (bounded) until `condition` (JavaScript returning a boolean) holds in the page.
    func wait(_ what: String, timeout: Duration = .seconds(20), _ condition: String) async throws {
        let deadline = ContinuousClock.now + timeout
        var last: Any?
        while ContinuousClock.now < deadline {
            last = try? await script(condition)
            if last as? Bool == true { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure(description: "timed out waiting for \(what) (\(condition) was \(String(describing: last)))")
    }

    /// Ends the session (closing the browser) and chromedriver.
    func stop() async {
        _ = try? await command("DELETE", "")
        driver.send(SIGTERM)
        _ = try? await driver.wait(timeout: .seconds(10))
        kill()
    }

    /// Kills chromedriver and every process still using this session's browser profile.
    func kill() {
        driver.send(SIGKILL)
        Self.killBrowser(profile: profile)
    }

    /// SIGKILLs the processes whose command line names `profile` (the browser and its helpers:
    /// only this test's browser uses that directory).
    static func killBrowser(profile: String) {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return }
        for entry in entries {
            guard let pid = Int32(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
            if String(decoding: data, as: UTF8.self).contains(profile) { signalProcess(pid, SIGKILL) }
        }
    }

    static func request(_ method: String, _ url: String, body: [String: Any]?, directory: String, label: String) async throws -> [String: Any] {
        var arguments = ["-sS", "--max-time", "60", "-X", method, "-H", "Content-Type: application/json; charset=utf-8", url]
        if let body {
            let path = directory + "/\(label)-\(UUID().uuidString).json"
            try JSONSerialization.data(withJSONObject: body).write(to: URL(fileURLWithPath: path))
            arguments += ["--data-binary", "@" + path]
        }
        let (process, termination) = try await ChildProcess.run("/usr/bin/env", ["curl"] + arguments, directory: directory,
                                                                label: "curl-\(label)-\(UUID().uuidString)", timeout: .seconds(90))
        guard termination == .exited(0) else { throw Failure(description: "curl \(method) \(url) ended \(termination): \(process.stderr)") }
        let data = Data(process.stdout.utf8)
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw Failure(description: "\(method) \(url): not a JSON object: \(process.stdout)")
        }
        return object
    }
}

/// `kill(2)`, under a name the class's own `kill()` does not hide.
private func signalProcess(_ pid: pid_t, _ signal: Int32) {
    kill(pid, signal)
}
