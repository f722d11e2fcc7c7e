/// Hides credentials in text that may hold a URL, whatever the URL's shape: a wrong or
/// mis-cased scheme (`Redis://`, `tcp://`, `redis:/`), no scheme at all (`:pw@host`), a list of
/// cluster seeds, an `@` or a space in the password, percent-encoding. Anything that could be
/// a URL's userinfo (what comes before an `@`) is replaced by `***`; only a username (the part
/// before the userinfo's first `:`) is kept, as ``RedisConfiguration/redactedDescription``
/// shows it.
public enum Redaction {
    /// The redacted form of one value (a URL, or a flag's or variable's whole value): when it
    /// holds an `@`, everything from the end of a leading scheme (`letters:` and the slashes
    /// after it; nothing when there is none) to its **last** `@` is userinfo, shown as
    /// `***`, or `user:***` when it has a `:`. A value without `@` is returned as it is.
    /// Idempotent: a redacted value stays as it is. Kept as they are: nothing before the `@`,
    /// ACL categories (`+@all`, `-@all`, as in the ACL rule a permission error prints), and the
    /// usage hint `redis://[user:password@]host`.
    ///
    ///     redis://bob:s3cret@h:1/0     -> redis://bob:***@h:1/0
    ///     Redis://:p@ss@h:6379         -> Redis://:***@h:6379
    ///     s3cret@h:1                   -> ***@h:1
    ///     redis://:pw@h1:1,:pw@h2:2    -> redis://:***@h2:2
    public static func redactingCredentials(_ value: String) -> String {
        let scalars = value.unicodeScalars
        guard let at = scalars.lastIndex(of: "@") else { return value }
        let start = schemeEnd(scalars) ?? scalars.startIndex
        guard start <= at else { return value }
        let userinfo = scalars[start..<at]
        // Nothing before the `@`, or an ACL category (`+@all`, `-@all`): no secret. Nor in the
        // usage hint `redis://[user:password@]host`.
        if userinfo.isEmpty || ["+", "-"].contains(String(userinfo)) || String(userinfo).lowercased() == "[user:password" {
            return value
        }
        var shown = "***"
        if let colon = userinfo.firstIndex(of: ":") { shown = String(userinfo[..<colon]) + ":***" }
        return String(scalars[..<start]) + shown + String(scalars[at...])
    }

    /// `text` (a message, a log line) with each of its words that holds an `@` redacted as
    /// ``redactingCredentials(_:)`` does; words are split at white space and quotes. A value
    /// that may itself hold spaces or quotes is redacted whole, with
    /// ``redactingCredentials(_:)``, before it goes into a message; this pass catches what
    /// came from anywhere else.
    public static func redactingCredentials(inMessage text: String) -> String {
        guard text.unicodeScalars.contains("@") else { return text }
        var result = ""
        var word = ""
        func flush() {
            if !word.isEmpty {
                result += redactingCredentials(word)
                word = ""
            }
        }
        for scalar in text.unicodeScalars {
            if scalar.properties.isWhitespace || separators.contains(scalar) {
                flush()
                result.unicodeScalars.append(scalar)
            } else {
                word.unicodeScalars.append(scalar)
            }
        }
        flush()
        return result
    }

    /// The characters that end a word of a message besides white space: quotes.
    private static let separators: Set<Unicode.Scalar> = ["'", "\"", "`", "\u{2018}", "\u{2019}", "\u{201C}", "\u{201D}"]

    /// The end of a leading `scheme:` followed by at least one `/`, or nil.
    private static func schemeEnd(_ scalars: String.UnicodeScalarView) -> String.Index? {
        var index = scalars.startIndex
        guard index < scalars.endIndex, isASCIILetter(scalars[index]) else { return nil }
        index = scalars.index(after: index)
        while index < scalars.endIndex, isSchemeCharacter(scalars[index]) { index = scalars.index(after: index) }
        guard index < scalars.endIndex, scalars[index] == ":" else { return nil }
        index = scalars.index(after: index)
        var slashes = 0
        while index < scalars.endIndex, scalars[index] == "/" {
            index = scalars.index(after: index)
            slashes += 1
        }
        return slashes > 0 ? index : nil
    }

    private static func isASCIILetter(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
    }

    private static func isSchemeCharacter(_ scalar: Unicode.Scalar) -> Bool {
        isASCIILetter(scalar) || ("0"..."9").contains(scalar) || scalar == "+" || scalar == "-" || scalar == "."
    }
}
