import Testing
import WorkQueuePlugins

@Suite struct FFISignatureTests {
    @Test func parsesNumbersBytesAndStrings() throws {
        let square = try FFISignature(parsing: "i64(i64)")
        #expect(square.returnType == .i64)
        #expect(square.form == .numbers([.i64]))
        #expect(!square.returnsStatus)

        let vowels = try FFISignature(parsing: " i32( ptr , u64 ) ")
        #expect(vowels.form == .bytesAndLength(.u64))
        #expect(vowels.returnsStatus)
        #expect(vowels.description == "i32(ptr,u64)")

        #expect(try FFISignature(parsing: "void(ptr)").form == .cString)
        #expect(try FFISignature(parsing: "u64()").form == .none)
        #expect(try FFISignature(parsing: "f64(f64,u32)").form == .numbers([.f64, .u32]))
    }

    @Test(arguments: [
        "i64", "i64(", "int(i64)", "i64(int)", "ptr(i64)", "i32(u64,ptr)", "i32(ptr,f64)",
        "i32(ptr,u64,u64)", "i32(void)", "i64(i64,)", "(i64)",
    ])
    func rejectsBadSignaturesNamingThemAndTheGrammar(_ text: String) {
        #expect {
            try FFISignature(parsing: text)
        } throws: { error in
            guard case let .invalidSignature(signature, _) = error as? PluginError else { return false }
            let message = String(describing: error)
            return signature == text && message.contains("'\(text)'") && message.contains("RET(ARGS)")
        }
    }
}
