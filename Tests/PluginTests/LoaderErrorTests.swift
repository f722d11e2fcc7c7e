import Foundation
import Testing
import TestSupport
import WorkQueuePlugins

@Suite struct LoaderErrorTests {
    let directory: TemporaryDirectory

    init() throws { directory = try TemporaryDirectory() }

    private func expectMessage(_ error: PluginError, contains parts: [String]) {
        let message = String(describing: error)
        for part in parts { #expect(message.contains(part), "\(message) lacks \(part)") }
    }

    @Test func noSuchFile() {
        let path = directory.file("libmissing.so")
        #expect(throws: PluginError.noSuchFile(path: path)) { try PluginLoader.loadPlugin(path: path, options: [:]) }
        expectMessage(.noSuchFile(path: path), contains: [path, "does not exist"])
    }

    @Test func notASharedObjectQuotesDlerror() throws {
        let path = try directory.write("libtext.so", "not an ELF file\n")
        #expect {
            try PluginLoader.loadPlugin(path: path, options: [:])
        } throws: { error in
            guard case let .notSharedObject(failed, reason) = error as? PluginError else { return false }
            return failed == path && !reason.isEmpty && "\(error)".contains(path)
        }
    }

    @Test func missingEntrySymbol() throws {
        let path = try directory.compileSharedObject("libnoentry.so", source: "int unrelated(void) { return 1; }\n")
        #expect(throws: PluginError.missingSymbol(path: path, symbol: "workqueue_plugin_entry")) {
            try PluginLoader.loadPlugin(path: path, options: [:])
        }
        expectMessage(.missingSymbol(path: path, symbol: "workqueue_plugin_entry"), contains: [path, "workqueue_plugin_entry"])
    }

    @Test func abiVersionMismatchSaysFoundAndExpected() throws {
        let source = """
            #include <stdint.h>
            static const struct { uint32_t version, size; } table = { 99, 8 };
            const void *workqueue_plugin_entry(void) { return &table; }
            """
        let path = try directory.compileSharedObject("libfuture.so", source: source)
        let expected = PluginError.abiVersionMismatch(path: path, found: 99, expected: 1)
        #expect(throws: expected) { try PluginLoader.loadPlugin(path: path, options: [:]) }
        expectMessage(expected, contains: [path, "version 99", "expects version 1"])
    }

    @Test func tooSmallTableIsRefused() throws {
        let source = """
            #include <stdint.h>
            static const struct { uint32_t version, size; } table = { 1, 8 };
            const void *workqueue_plugin_entry(void) { return &table; }
            """
        let path = try directory.compileSharedObject("libshort.so", source: source)
        #expect {
            try PluginLoader.loadPlugin(path: path, options: [:])
        } throws: { error in
            guard case .malformedTable(path, _) = error as? PluginError else { return false }
            return true
        }
    }

    @Test(arguments: [0o775, 0o757, 0o666])
    func refusesFilesWritableByGroupOrOthers(mode: Int) throws {
        let path = try directory.compileSharedObject("libopen.so", source: "int f(void) { return 0; }\n")
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        #expect {
            try PluginLoader.loadPlugin(path: path, options: [:])
        } throws: { error in
            guard case .writableByOthers(path, _) = error as? PluginError else { return false }
            let message = "\(error)"
            return message.contains("chmod go-w \(path)") && message.contains("runs its code")
        }
    }

    @Test(.enabled(if: geteuid() == 0, "only root can give a file to another user"))
    func refusesFilesOwnedByAnotherUser() throws {
        let path = try directory.compileSharedObject("libforeign.so", source: "int f(void) { return 0; }\n")
        #expect(chown(path, 4242, 4242) == 0)
        #expect(throws: PluginError.ownedByAnotherUser(path: path, owner: 4242)) {
            try PluginLoader.loadPlugin(path: path, options: [:])
        }
        expectMessage(.ownedByAnotherUser(path: path, owner: 4242), contains: [path, "chown", "runs its code"])
        // Root-owned files are trusted.
        #expect(chown(path, 0, 0) == 0)
        #expect(throws: PluginError.missingSymbol(path: path, symbol: "workqueue_plugin_entry")) {
            try PluginLoader.loadPlugin(path: path, options: [:])
        }
    }
}

/// The loader opens the plugin once, checks the open file, and loads that very file.
@Suite struct LoaderDescriptorTests {
    let directory: TemporaryDirectory

    init() throws { directory = try TemporaryDirectory() }

    static let entrySource = """
        #include <stdint.h>
        static const struct { uint32_t version, size; } table = { 77, 8 };
        const void *workqueue_plugin_entry(void) { return &table; }
        """

    @Test func aBareNameIsRefusedWithTheFix() {
        #expect(throws: PluginError.bareName(path: "libx.so")) { try PluginLoader.loadPlugin(path: "libx.so", options: [:]) }
        let message = "\(PluginError.bareName(path: "libx.so"))"
        #expect(message.contains("./libx.so") && message.contains("absolute path"))
        #expect(throws: PluginError.bareName(path: "libm.so.6")) {
            try FFIFunctionHandler(library: "libm.so.6", symbol: "cos", signature: "f64(f64)")
        }
    }

    @Test func aDirectoryIsNotARegularFile() throws {
        let path = directory.file("plugin.so")
        #expect(mkdir(path, 0o755) == 0)
        #expect(throws: PluginError.notRegularFile(path: path)) { try PluginLoader.loadPlugin(path: path, options: [:]) }
    }

    @Test(.enabled(if: geteuid() != 0, "root reads any file"))
    func anUnreadableFileSaysSo() throws {
        let path = try directory.compileSharedObject("libsecret.so", source: "int f(void) { return 0; }\n")
        #expect(chmod(path, 0o200) == 0)
        #expect {
            try PluginLoader.loadPlugin(path: path, options: [:])
        } throws: { error in
            guard case .unreadable(path, _) = error as? PluginError else { return false }
            return true
        }
    }

    @Test func aFileInAWorldWritableDirectoryIsRefused() throws {
        let open = directory.file("open")
        #expect(mkdir(open, 0o755) == 0)
        #expect(chmod(open, 0o777) == 0)
        let path = open + "/libplugin.so"
        try FileManager.default.copyItem(atPath: try directory.compileSharedObject("libplugin.so", source: Self.entrySource),
                                         toPath: path)
        #expect {
            try PluginLoader.loadPlugin(path: path, options: [:])
        } throws: { error in
            guard case .directoryWritableByOthers(path, open, _) = error as? PluginError else { return false }
            return "\(error)".contains("chmod o-w \(open)")
        }
        // With the sticky bit (like /tmp) others cannot rename files into its place.
        #expect(chmod(open, 0o1777) == 0)
        #expect(throws: PluginError.abiVersionMismatch(path: path, found: 77, expected: 1)) {
            try PluginLoader.loadPlugin(path: path, options: [:])
        }
    }

    /// The library is loaded from the descriptor: dlopen names /proc/self/fd/N, and errors
    /// still name the path that was given.
    @Test func theCheckedFileIsTheOneLoaded() throws {
        let path = try directory.compileSharedObject("libfd.so", source: Self.entrySource)
        #expect(throws: PluginError.abiVersionMismatch(path: path, found: 77, expected: 1)) {
            try PluginLoader.loadPlugin(path: path, options: [:])
        }
        // Loading another file afterwards gets that file, not the first one again (the loader
        // caches libraries by the name they were opened with).
        let other = try directory.compileSharedObject("libfd2.so", source: Self.entrySource.replacing("77", with: "78"))
        #expect(throws: PluginError.abiVersionMismatch(path: other, found: 78, expected: 1)) {
            try PluginLoader.loadPlugin(path: other, options: [:])
        }
        let text = try directory.write("libtext2.so", "not an ELF file\n")
        #expect {
            try PluginLoader.loadPlugin(path: text, options: [:])
        } throws: { error in
            guard case let .notSharedObject(failed, reason) = error as? PluginError else { return false }
            return failed == text && !reason.contains("/proc/self/fd")
        }
    }
}
