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
}
