import Testing
import TestSupport
import WorkQueue
import WorkQueuePlugins
import WorkQueueTesting

/// A plain C library, compiled by the test.
private let mathSource = """
    #include <stdint.h>
    #include <string.h>
    int64_t square(int64_t x) { return x * x; }
    double half(double x) { return x / 2; }
    uint32_t add(uint32_t a, uint32_t b) { return a + b; }
    int32_t negate(int32_t x) { return -x; }
    int64_t count_vowels(const uint8_t *p, uint64_t n) {
        int64_t c = 0;
        for (uint64_t i = 0; i < n; i++) if (strchr("aeiouAEIOU", p[i]) && p[i]) c++;
        return c;
    }
    int32_t check_ascii(const uint8_t *p, uint64_t n) {
        for (uint64_t i = 0; i < n; i++) if (p[i] >= 0x80) return 3;
        return 0;
    }
    static uint64_t seen = 0;
    void record(const uint8_t *p, uint64_t n) { (void)p; seen += n; }
    uint64_t recorded(void) { return seen; }
    int64_t c_length(const char *s) { return (int64_t)strlen(s); }
    """

@Suite struct FFIFunctionHandlerTests {
    let directory: TemporaryDirectory
    let library: String

    init() throws {
        directory = try TemporaryDirectory()
        library = try directory.compileSharedObject("libmath.so", source: mathSource)
    }

    private func call(_ symbol: String, _ signature: String, _ item: WorkItem) async throws -> String? {
        let handler = try FFIFunctionHandler(library: library, symbol: symbol, signature: signature)
        #expect(handler.execution == .dedicatedThread)
        return try await handler.handle(item, context: makeContext())
    }

    @Test func callsNumberFunctions() async throws {
        #expect(try await call("square", "i64(i64)", "12") == "144")
        #expect(try await call("square", "i64(i64)", "-3000000000") == "9000000000000000000")
        #expect(try await call("half", "f64(f64)", "3") == "1.5")
        #expect(try await call("add", "u32(u32,u32)", " 2\t40 ") == "42")
        #expect(try await call("negate", "i32(i32)", "7") == "-7")
    }

    @Test func passesItemBytesAndLength() async throws {
        #expect(try await call("count_vowels", "i64(ptr,u64)", "education") == "5")
        #expect(try await call("count_vowels", "i64(ptr,u64)", "") == "0")
        #expect(try await call("c_length", "i64(ptr)", "hello") == "5")
        #expect(try await call("check_ascii", "i32(ptr,u64)", "plain") == nil)
    }

    @Test func voidFunctionsHaveNoResultButRun() async throws {
        let record = try FFIFunctionHandler(library: library, symbol: "record", signature: "void(ptr,u64)")
        #expect(try await record.handle("abcd", context: makeContext()) == nil)
        #expect(try await record.handle("ef", context: makeContext()) == nil)
        #expect(try await call("recorded", "u64()", "ignored") == "6")
    }

    @Test func nonZeroStatusFromAPointerFunctionIsAFailure() async throws {
        await #expect(throws: PluginError.functionFailed(symbol: "check_ascii", status: 3)) {
            _ = try await call("check_ascii", "i32(ptr,u64)", WorkItem([0x61, 0xC3, 0xA9]))
        }
    }

    @Test func aFailingFunctionIsRetriedThenDeadLettered() async throws {
        let handler = try FFIFunctionHandler(library: library, symbol: "check_ascii", signature: "i32(ptr,u64)")
        let report = try await HandlerHarness(handler).run(["fine", WorkItem([0xFF])])
        #expect(report.completed == ["fine"])
        #expect(report.deadLettered == [WorkItem([0xFF])])
        #expect(report.failures.count == 3)
        #expect(report.deadLetters.first?.lastError?.contains("check_ascii returned status 3") == true)
    }

    @Test func badItemIsAnErrorQuotingIt() async throws {
        await #expect {
            _ = try await call("square", "i64(i64)", "twelve")
        } throws: { error in
            guard case let .invalidItem(item, signature, _) = error as? PluginError else { return false }
            return item == "twelve" && signature == "i64(i64)" && "\(error)".contains("'twelve'")
        }
        await #expect {
            _ = try await call("add", "u32(u32,u32)", "1")
        } throws: { error in
            "\(error)".contains("expected 2 whitespace-separated number(s), found 1")
        }
    }

    @Test func missingSymbolNamesFileAndSymbol() throws {
        #expect(throws: PluginError.missingSymbol(path: library, symbol: "cube")) {
            try FFIFunctionHandler(library: library, symbol: "cube", signature: "i64(i64)")
        }
    }

    @Test func badSignatureIsReportedBeforeLoading() throws {
        #expect {
            try FFIFunctionHandler(library: "/nonexistent.so", symbol: "square", signature: "i64 i64")
        } throws: { error in
            guard case .invalidSignature = error as? PluginError else { return false }
            return true
        }
    }

    @Test func sameTrustChecksAsPlugins() throws {
        let loose = directory.file("libloose.so")
        try FileManager.default.copyItem(atPath: library, toPath: loose)
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: loose)
        #expect(throws: PluginError.writableByOthers(path: loose, mode: 0o100777)) {
            try FFIFunctionHandler(library: loose, symbol: "square", signature: "i64(i64)")
        }
    }
}

import Foundation

/// The signature rules of docs/plugins.md for return values: only `i32` from a function
/// taking `ptr` is a status; any other integer return is the result, whatever its value.
@Suite struct FFIReturnRuleTests {
    static let source = """
        #include <stdint.h>
        uint32_t count_u32(const uint8_t *p, uint64_t n) { (void)p; return (uint32_t)n; }
        int64_t count_i64(const char *s) { int64_t c = 0; while (s[c]) c++; return c; }
        int32_t status_of(const uint8_t *p, uint64_t n) { (void)p; return n > 3 ? 7 : 0; }
        int32_t twice(int32_t x) { return 2 * x; }
        """

    @Test func countsFromPointerFunctionsAreResultsAndI32FromThemIsAStatus() async throws {
        let directory = try TemporaryDirectory()
        let library = try directory.compileSharedObject("libcounts.so", source: Self.source)
        func call(_ symbol: String, _ signature: String, _ item: WorkItem) async throws -> String? {
            try await FFIFunctionHandler(library: library, symbol: symbol, signature: signature).handle(item, context: makeContext())
        }
        #expect(try await call("count_u32", "u32(ptr,u64)", "hello") == "5")
        #expect(try await call("count_i64", "i64(ptr)", "hello world") == "11")
        #expect(try await call("twice", "i32(i32)", "21") == "42")
        #expect(try await call("status_of", "i32(ptr,u64)", "abc") == nil)
        await #expect(throws: PluginError.functionFailed(symbol: "status_of", status: 7)) {
            _ = try await call("status_of", "i32(ptr,u64)", "abcdef")
        }
    }
}
