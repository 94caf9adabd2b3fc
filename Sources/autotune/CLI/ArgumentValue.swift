import Engine
/// A type an option or argument value converts to from the text typed on the command line.
///
/// `String`, `Int`, `UInt64` and `Double` conform here; a `String`-backed `CaseIterable` enum gets
/// a conformance for free by declaring it, with "Did you mean …?" for misspelled cases:
///
///     enum Suite: String, CaseIterable, ArgumentValue { case mlp, cnn }
protocol ArgumentValue {
    init?(argument: String)
    /// What a valid value looks like, for error messages ("an integer").
    static var expectation: String { get }
    /// The complete set of valid values when there is one, for suggestions; empty otherwise.
    static var knownValues: [String] { get }
}

extension ArgumentValue {
    static var knownValues: [String] { [] }

    /// Converts `text`, or throws `CLIError.invalidValue` naming `name` (`--threads`).
    static func convert(_ text: String, for name: String) throws -> Self {
        if let value = Self(argument: text) { return value }
        throw CLIError.invalidValue(name: name, value: text, reason: "expected \(expectation)",
                                    suggestion: closestMatch(to: text, among: knownValues))
    }
}

extension ArgumentValue where Self: CaseIterable & RawRepresentable, RawValue == String {
    init?(argument: String) { self.init(rawValue: argument) }
    static var knownValues: [String] { allCases.map(\.rawValue) }
    static var expectation: String { "one of " + knownValues.joined(separator: ", ") }
}

extension String: ArgumentValue {
    init?(argument: String) { self = argument }
    static var expectation: String { "a string" }
}

extension Int: ArgumentValue {
    init?(argument: String) { self.init(argument, radix: 10) }
    static var expectation: String { "an integer" }
}

extension UInt64: ArgumentValue {
    init?(argument: String) { self.init(argument, radix: 10) }
    static var expectation: String { "a non-negative integer" }
}

extension Double: ArgumentValue {
    init?(argument: String) {
        guard let value = Double(argument), value.isFinite else { return nil }
        self = value
    }
    static var expectation: String { "a finite number" }
}
