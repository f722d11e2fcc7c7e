import Foundation

/// A built plugin or worker checked against what the image has, before the image is written.
enum ImageCheck {
    /// The shared libraries a Debian bookworm image has (glibc, the C++ runtime, zlib, which
    /// minbase and debian:bookworm-slim carry for dpkg, and libffi8, which the stock image and the
    /// executable image install). zlib: the trace exporter (swift-otel's HTTP client) links it.
    static let available = ["libc.so.", "libm.so.", "libdl.so.", "libpthread.so.", "librt.so.", "libutil.so.",
                            "ld-linux", "libstdc++.so.", "libgcc_s.so.", "libz.so.1", "libffi.so.8"]

    static func check(_ binary: URL, kind: WorkerImage.Kind, product: String) throws {
        guard let readelf = WorkerImage.which("readelf") else {
            throw WorkerImageError("checking \(binary.lastPathComponent) needs readelf, which is not on PATH: install binutils")
        }
        let dynamic = try WorkerImage.run(readelf, ["-d", "-W", binary.path])
        guard dynamic.status == 0 else { throw WorkerImageError("readelf -d \(binary.path) failed: is it an ELF file?") }
        let needed = dynamic.output.split(separator: "\n").compactMap { line -> String? in
            guard line.contains("(NEEDED)"), let open = line.lastIndex(of: "["), let close = line.lastIndex(of: "]"),
                  open < close else { return nil }
            return String(line[line.index(after: open)..<close])
        }
        let missing = needed.filter { library in !available.contains { library.hasPrefix($0) } }
        if !missing.isEmpty {
            let swift = missing.contains { $0.hasPrefix("libswift") || $0.contains("Foundation") || $0 == "libdispatch.so" }
            throw WorkerImageError("""
                \(binary.lastPathComponent) needs \(missing.joined(separator: ", ")), which the image does not have, so it would not \(kind == .plugin ? "load" : "start") there. \
                \(swift
                    ? "The Swift runtime must be linked in: build through worker-image (or \(kind.swiftBuildLine(product))), and remove any linker settings of \(product) that undo -static-stdlib."
                    : "Link that library statically, or use --executable-product with a --base-image that has it.")
                """)
        }
        guard kind == .plugin else { return }
        let symbols = try WorkerImage.run(readelf, ["--dyn-syms", "-W", binary.path])
        let exported = symbols.output.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            return fields.last == "workqueue_plugin_entry" && fields.count >= 8 && fields[6] != "UND"
        }
        guard exported else {
            throw WorkerImageError("""
                \(binary.lastPathComponent) does not export workqueue_plugin_entry, so the worker would refuse it. \
                Add to \(product) the file: @_cdecl("workqueue_plugin_entry") public func entry() -> UnsafeRawPointer { PluginExport.table(for: YourHandler.self) }
                """)
        }
    }
}
