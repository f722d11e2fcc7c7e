import Foundation
import Testing
@testable import WorkQueueCommand

/// The version the command reports is a released one: CHANGELOG.md has its section, and the
/// README's dependency line asks for it. Migration notes live in the changelog, not the README.
@Suite struct ReleaseTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func theVersionHasAChangelogSectionAndTheReadmeAsksForIt() throws {
        let changelog = try String(contentsOf: Self.root.appendingPathComponent("CHANGELOG.md"), encoding: .utf8)
        #expect(changelog.contains("\n## [\(Version.current)] - "), "CHANGELOG.md has no section for \(Version.current)")
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains("from: \"\(Version.current)\""), "the README's dependency line does not ask for \(Version.current)")
        #expect(!readme.contains("## Migration notes"), "migration notes belong in CHANGELOG.md")
    }

    /// deploy/kubernetes runs the stock image of this version, by a full reference (no
    /// `:latest` a kubelet would try to pull from Docker Hub).
    @Test func theExampleManifestsRunThisVersionsImage() throws {
        for name in ["job.yaml", "job-recommended.yaml", "keda-scaledjob.yaml", "keda-scaling.yaml", "dashboard.yaml"] {
            let text = try String(contentsOf: Self.root.appendingPathComponent("deploy/kubernetes/\(name)"), encoding: .utf8)
            let images = text.split(separator: "\n").filter { $0.trimmingCharacters(in: .whitespaces).hasPrefix("image:") }
            #expect(!images.isEmpty, "\(name) names no image")
            for line in images {
                #expect(line.hasSuffix("image: localhost/workqueue:\(Version.current)"), "\(name): \(line)")
            }
        }
    }
}
