import Engine

/// A strategy's options object as the factory reads it: typed look-ups with range checks that
/// throw a `ConfigError` at `strategy.<key>`, and a check that every key is one the strategy knows.
///
///     let options = try StrategyOptions(.object([("population", .number(1))]))
///     try options.integer("population", default: 20, atLeast: 2)
///     // strategy.population: must be ≥ 2, got 1
struct StrategyOptions {
    let members: [JSONValue.Member]
    let keyPath: String

    init(_ value: JSONValue, keyPath: String = "strategy") throws {
        self.keyPath = keyPath
        switch value {
        case .null: members = []
        case .object(let m): members = m
        default: throw ConfigError(keyPath: keyPath, reason: "expected an object, got \(value.kindName)")
        }
    }

    private func path(_ key: String) -> String { ConfigError.join(keyPath, key) }

    private func number(_ key: String) throws -> Double? {
        guard let value = members.last(where: { $0.key == key })?.value else { return nil }
        if case .null = value { return nil }
        guard let x = value.number, x.isFinite else {
            throw ConfigError(keyPath: path(key), reason: "expected a number, got \(value.kindName)")
        }
        return x
    }

    /// A whole number ≥ `atLeast` (and ≤ `atMost` when given), or `default` when absent.
    func integer(_ key: String, default fallback: Int?, atLeast low: Int, atMost high: Int? = nil) throws -> Int? {
        guard let x = try number(key) else { return fallback }
        guard x == x.rounded(), abs(x) < 1e15 else {
            throw ConfigError(keyPath: path(key), reason: "must be a whole number, got \(JSONValue.format(x))")
        }
        if x < Double(low) { throw ConfigError(keyPath: path(key), reason: "must be ≥ \(low), got \(JSONValue.format(x))") }
        if let high, x > Double(high) {
            throw ConfigError(keyPath: path(key), reason: "must be ≤ \(high), got \(JSONValue.format(x))")
        }
        return Int(x)
    }

    func integer(_ key: String, default fallback: Int, atLeast low: Int, atMost high: Int? = nil) throws -> Int {
        try integer(key, default: Optional(fallback), atLeast: low, atMost: high) ?? fallback
    }

    /// A real number ≥ `low` (> `low` unless `inclusive`) and ≤ `high` when given, or `default` when absent.
    func real(_ key: String, default fallback: Double?, above low: Double, inclusive: Bool = true,
              atMost high: Double? = nil) throws -> Double? {
        guard let x = try number(key) else { return fallback }
        let text = JSONValue.format(x)
        if inclusive ? x < low : x <= low {
            throw ConfigError(keyPath: path(key), reason: "must be \(inclusive ? "≥" : ">") \(JSONValue.format(low)), got \(text)")
        }
        if let high, x > high { throw ConfigError(keyPath: path(key), reason: "must be ≤ \(JSONValue.format(high)), got \(text)") }
        return x
    }

    func real(_ key: String, default fallback: Double, above low: Double, inclusive: Bool = true, atMost high: Double? = nil) throws -> Double {
        try real(key, default: Optional(fallback), above: low, inclusive: inclusive, atMost: high) ?? fallback
    }

    /// Throws for the first key (in the order written) that is not in `allowed`, with a
    /// "Did you mean …?" by edit distance. `name` is always accepted (it names the strategy).
    func rejectUnknownKeys(allowed: [String], strategy: String) throws {
        for member in members where member.key != "name" && !allowed.contains(member.key) {
            let valid = allowed.isEmpty ? "it takes no options" : "valid: \(allowed.joined(separator: ", "))"
            var reason = "unknown option of strategy '\(strategy)' (\(valid))"
            if let near = closestMatch(to: member.key, among: allowed) { reason += ". Did you mean '\(near)'?" }
            throw ConfigError(keyPath: path(member.key), reason: reason)
        }
    }
}
