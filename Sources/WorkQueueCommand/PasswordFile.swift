#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The Redis password read from a file (a mounted Kubernetes Secret), so that it appears
/// neither in the URL, the environment, nor the process list.
enum PasswordFile {
    /// The file's contents without one trailing newline (`\n` or `\r\n`). Throws
    /// ``CommandError/passwordFile(path:source:reason:)`` naming the file and why.
    static func read(_ path: String, source: String) throws -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw CommandError.passwordFile(path: path, source: source, reason: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { readDescriptor(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw CommandError.passwordFile(path: path, source: source, reason: String(cString: strerror(errno)))
            }
            if count == 0 { break }
            bytes += buffer[0..<count]
            guard bytes.count <= 65_536 else {
                throw CommandError.passwordFile(path: path, source: source, reason: "it is larger than 64 KiB; it should hold only the password")
            }
        }
        if bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        guard !bytes.isEmpty else {
            throw CommandError.passwordFile(path: path, source: source, reason: "it is empty")
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The C library's `read(2)`, which ``PasswordFile/read(_:source:)`` hides by its name
/// (`Glibc.read` would not build on macOS, nor `Darwin.read` on Linux).
private func readDescriptor(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(descriptor, buffer, count)
}
