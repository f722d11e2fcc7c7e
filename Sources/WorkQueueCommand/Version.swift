/// This package's version (semantic versioning; each release has its section in CHANGELOG.md,
/// and `scripts/release` refuses a version other than this one). `workqueue --version` prints it.
enum Version {
    static let current = "0.1.0"
}
