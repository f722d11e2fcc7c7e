import Foundation
import Testing
import TestSupport

/// The web dashboard (`workqueue dashboard`) in a real headless Chromium, against a real Redis
/// and real `workqueue work` processes: the counts follow the queue, a dead letter retried from
/// the page is back in pending, an action without the token is refused, and items that are
/// `<script>` or invalid UTF-8 are shown as text, a `countdown` worker's progress shows under its
/// lease, and Pause and Cancel (after its confirmation) from the page set `NAME:control` and show
/// their badges. Leaves a screenshot in `.build/dashboard.png`.
///
/// Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium chromium-driver`;
/// `scripts/browser-test` installs them). Without them the test is skipped with a message,
/// unless WORKQUEUE_REQUIRE_BROWSER=1 makes their absence a failure (as in CI).
@Suite(.serialized) struct DashboardBrowserTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let required = ProcessInfo.processInfo.environment["WORKQUEUE_REQUIRE_BROWSER"] == "1"

    /// The `<script>` item: shown as text, it never runs.
    static let scriptItem = "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\">"

    @Test func theDashboardFollowsTheQueueRetriesFromThePageAndShowsItemsAsText() async throws {
        guard let (driverPath, browserPath) = WebDriver.locate() else {
            let message = "chromium or chromedriver is not installed: install them (apt-get install chromium chromium-driver) "
                + "or run scripts/browser-test, which does"
            if Self.required { Issue.record(Comment(rawValue: message)) } else { print("SKIP DashboardBrowserTests: \(message)") }
            return
        }
        try await LocalRedis.with { redis in
            let launcher = try WorkqueueLauncher(url: redis.url, directoryPrefix: "workqueue-browser")
            var processes: [ChildProcess] = []
            var browser: WebDriver?
            // Whatever happens, nothing started here outlives the test.
            defer {
                for process in processes { process.send(SIGKILL) }
                browser?.kill()
            }

            // Dead letters made by a real worker: factor fails on anything but an integer.
            let bad = ["not a number", Self.scriptItem]
            try await redis.cli(["rpush", "mixed"] + bad)
            try await redis.cli("eval", "redis.call('RPUSH', KEYS[1], ARGV[1] .. string.char(255) .. string.char(254))", "1", "mixed", "bad")
            let factor = try launcher.start(["work", "--queue", "mixed", "--handler", "factor", "--max-attempts", "1", "--keep-running"])
            processes.append(factor)
            for _ in 0..<300 where try await redis.cli("llen", "mixed:dead") != "3" { try await Task.sleep(for: .milliseconds(50)) }
            #expect(try await redis.cli("llen", "mixed:dead") == "3", "\(factor.stderr)")
            factor.send(SIGTERM)
            _ = try await factor.wait(timeout: .seconds(20))

            // A queue two workers drain slowly (started once the page is open), so that the
            // page sees it move.
            try await redis.cli(["rpush", "jobs"] + (1...40).map { "job-\($0)" })

            let tokenPath = launcher.directory.path + "/token"
            try "s3cret-token\n".write(toFile: tokenPath, atomically: true, encoding: .utf8)
            let port = try LocalRedis.freePort()
            // Long items a countdown worker runs step by step, reporting its progress.
            try await redis.cli(["rpush", "long", "150", "151", "152", "153", "154"])
            let dashboard = try launcher.start(["dashboard", "--queue", "long", "jobs", "mixed", "--port", "\(port)", "--token-file", tokenPath,
                                                "--interval", "0.5"])
            processes.append(dashboard)
            #expect(try await dashboard.waitForStdout(containing: "Dashboard at http://127.0.0.1:\(port)/"), "\(dashboard.stderr)")

            let driver = try await WebDriver.start(directory: launcher.directory, driverPath: driverPath, browserPath: browserPath)
            browser = driver
            try await driver.navigate("http://127.0.0.1:\(port)/")

            func count(_ queue: String, _ key: String) -> String {
                "(function(){var e=document.querySelector('section[data-queue=\"\(queue)\"] [data-count=\"\(key)\"]');"
                    + "return e ? Number(e.textContent.replace(/,/g,'')) : -1;})()"
            }
            try await driver.wait("the pending jobs", "return \(count("jobs", "pending")) === 40")
            for _ in 0..<2 {
                processes.append(try launcher.start(["work", "--queue", "jobs", "--handler", "printer", "--option", "delay=1",
                                                     "--concurrency", "2", "--keep-running", "--heartbeat-seconds", "1"]))
            }
            // The counts follow the queue: items in flight with both workers live, then all done.
            try await driver.wait("two live workers holding items", "return \(count("jobs", "workers")) === 2 && \(count("jobs", "in_flight")) > 0")
            try await driver.wait("the pending count to go down", "return \(count("jobs", "pending")) >= 0 && \(count("jobs", "pending")) < 36")
            try await driver.wait("leases listed under the workers",
                                  "return document.querySelectorAll('section[data-queue=\"jobs\"] .lease').length > 0")
            try await driver.wait("every job completed", timeout: .seconds(40),
                                  "return \(count("jobs", "completed")) === 40 && \(count("jobs", "pending")) === 0 && \(count("jobs", "in_flight")) === 0")
            try await redis.cli(["rpush", "jobs", "late-1", "late-2"])
            try await driver.wait("a later push to be handled", "return \(count("jobs", "completed")) === 42")
            #expect(try await redis.cli("get", "jobs:completed") == "42")

            // Items are shown as text: the <script> item is text, nothing of it ran or was parsed.
            try await driver.wait("three dead letters listed", "return document.querySelectorAll('section[data-queue=\"mixed\"] tr[data-digest]').length === 3")
            let shown = try await driver.script("""
                return Array.prototype.map.call(document.querySelectorAll('section[data-queue="mixed"] .dead-item'), function (e) { return e.textContent; });
                """) as? [String] ?? []
            #expect(shown.contains(Self.scriptItem), "\(shown)")
            #expect(shown.contains("bad\\xff\\xfe"), "\(shown)")
            #expect(try await driver.script("return window.__pwned === undefined") as? Bool == true)
            #expect(try await driver.script("return document.scripts.length") as? Int == 1)
            #expect(try await driver.script("return document.querySelectorAll('img[src=\"x\"]').length") as? Int == 0)
            let errors = try await driver.script("""
                return Array.prototype.map.call(document.querySelectorAll('section[data-queue="mixed"] .error-text'), function (e) { return e.textContent; });
                """) as? [String] ?? []
            #expect(errors.count == 3 && errors.allSatisfy { !$0.isEmpty }, "the last errors are listed: \(errors)")

            // An action without the token is refused, and changes nothing.
            let digest = try await driver.script("""
                var rows = document.querySelectorAll('section[data-queue="mixed"] tr[data-digest]');
                for (var i = 0; i < rows.length; i++) if (rows[i].querySelector('.dead-item').textContent === 'not a number') return rows[i].dataset.digest;
                return null;
                """) as? String
            let row = "section[data-queue=\"mixed\"] tr[data-digest=\"\(try #require(digest))\"]"
            try await driver.click("\(row) button[data-action=\"retry\"]")
            try await driver.wait("the refusal to be shown",
                                  "var n = document.getElementById('notice'); return !n.hidden && n.classList.contains('error') && /token/.test(n.textContent)")
            #expect(try await redis.cli("llen", "mixed:dead") == "3")
            #expect(try await redis.cli("llen", "mixed") == "0")

            // With the token, the dead letter retried from the page is back in pending.
            try await driver.type("#token", "s3cret-token")
            try await driver.click("#token-use")
            try await driver.click("\(row) button[data-action=\"retry\"]")
            try await driver.wait("the retried letter to leave the dead list", "return \(count("mixed", "dead")) === 2 && \(count("mixed", "pending")) === 1")
            #expect(try await redis.cli("lrange", "mixed", "0", "-1") == "not a number")
            #expect(try await redis.cli("llen", "mixed:dead") == "2")
            let notice = try await driver.script("return document.getElementById('notice').textContent") as? String ?? ""
            #expect(notice.contains("back to pending"), "\(notice)")

            // A countdown worker's progress shows under its lease: a bar, the percentage, the note.
            let countdown = try launcher.start(["work", "--queue", "long", "--handler", "countdown", "--option", "step=0.1",
                                                "--concurrency", "2", "--keep-running", "--heartbeat-seconds", "1"])
            processes.append(countdown)
            let long = "section[data-queue=\"long\"]"
            let progressShown = "var s = document.querySelectorAll('\(long) .lease + .step'); if (s.length !== 2) return false; "
                + "return Array.prototype.every.call(s, function (e) { var lease = e.previousElementSibling; "
                + "var note = /^step \\d+ of (15\\d)$/.exec(e.querySelector('.note').textContent); "
                + "return /^\\d+%$/.test(e.querySelector('.pct').textContent) && note !== null && e.querySelector('.pbar > span').style.width !== '' "
                // Under the lease of its own item (a lease row has its time left).
                + "&& lease.querySelector('.ttl') !== null && lease.querySelector('.item').textContent === note[1]; })"
            try await driver.wait("the countdown's progress under its two leases", timeout: .seconds(30), "return (function(){\(progressShown)})()")
            func percents() async throws -> [Int] {
                (try await driver.script("return Array.prototype.map.call(document.querySelectorAll('\(long) .step .pct'), "
                    + "function (e) { return parseInt(e.textContent, 10); })") as? [Int]) ?? []
            }
            let firstPercents = try await percents()
            try await driver.wait("the progress to move", "var p = Array.prototype.map.call(document.querySelectorAll('\(long) .step .pct'), "
                + "function (e) { return parseInt(e.textContent, 10); }); return p.length === 2 && p[0] + p[1] > \(firstPercents.reduce(0, +))")

            // Pause from the page: NAME:control says so, the badge shows, items in flight go on.
            #expect(try await driver.script("return document.querySelectorAll('\(long) .badge.paused').length") as? Int == 0)
            // (Back to the top: the sticky header would take a click near it.)
            _ = try await driver.script("window.scrollTo(0, 0); return true")
            try await driver.click("\(long) button[data-action=\"pause\"]")
            try await driver.wait("the paused badge", "return document.querySelectorAll('\(long) .badge.paused').length === 1 "
                + "&& document.querySelector('\(long) .badge.paused').textContent === 'paused'")
            #expect(try await redis.cli("hget", "long:control", "paused") == "1")
            #expect(try await driver.script("return document.querySelector('\(long) button[data-action=\"resume\"]') !== null") as? Bool == true)
            try await driver.wait("the progress to go on while paused", "return (function(){\(progressShown)})()")
            // The screenshot: a paused queue whose worker reports progress, a drained job, dead letters.
            try await Task.sleep(for: .seconds(2))
            let png = try await driver.screenshot()
            try FileManager.default.createDirectory(atPath: Self.root.path + "/.build", withIntermediateDirectories: true)
            try png.write(to: Self.root.appendingPathComponent(".build/dashboard.png"))

            // Cancel asks first: dismissed, nothing changes; accepted, the items are moved aside.
            let waiting = try await redis.cli("llen", "long")
            try await driver.click("\(long) button[data-action=\"cancel\"]")
            try await driver.answerDialog(accept: false)
            try await Task.sleep(for: .seconds(1))
            #expect(try await redis.cli("hexists", "long:control", "cancelled") == "0")
            #expect(try await redis.cli("llen", "long") == waiting && waiting != "0")
            try await driver.click("\(long) button[data-action=\"cancel\"]")
            try await driver.answerDialog(accept: true)
            try await driver.wait("the cancelled badge with the items aside",
                                  "var b = document.querySelector('\(long) .badge.cancelled'); return b !== null && /^cancelled · \\d+ items? aside$/.test(b.textContent)")
            #expect(try await redis.cli("hexists", "long:control", "cancelled") == "1")
            #expect(try await redis.cli("llen", "long") == "0")
            #expect(Int(try await redis.cli("llen", "long:cancelled")) ?? 0 >= Int(waiting) ?? 1)

            await driver.stop()
            browser = nil
            for process in processes where process.poll() == nil {
                process.send(SIGTERM)
                _ = try? await process.wait(timeout: .seconds(20))
            }
        }
    }
}
