import Foundation

/// Where a command's output goes: one JSON document or text on stdout, progress on stderr.
enum Output {
    /// Pretty, key-sorted, snake_case JSON on stdout.
    static func printJSON<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let data = try encoder.encode(value)
        print(String(decoding: data, as: UTF8.self))
    }

    /// A progress reporter writing lines to stderr, or nil when `quiet` or stderr is not a terminal.
    static func progress(quiet: Bool) -> ((String) -> Void)? {
        guard !quiet, isatty(2) != 0 else { return nil }
        return { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }
}

/// A number for people: 3 significant decimals, thousands as k/M/G where that reads better.
func humanNumber(_ v: Double) -> String {
    let a = abs(v)
    if a >= 1e9 { return String(format: "%.2fG", v / 1e9) }
    if a >= 1e6 { return String(format: "%.2fM", v / 1e6) }
    if a >= 1e4 { return String(format: "%.1fk", v / 1e3) }
    if v == v.rounded() { return String(Int(v)) }
    return String(format: a >= 1 ? "%.3f" : "%.4f", v)
}
