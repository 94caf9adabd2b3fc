import Engine

/// Typed reads of space-file values: each either returns what it expects or throws a
/// `ConfigError` at the value's key path ("expected an integer, got 2.5").
extension SpaceFile {
    /// `value` as an object's members.
    static func object(_ value: JSONValue, at path: String) throws -> [JSONValue.Member] {
        guard let members = value.members else { throw ConfigError(keyPath: path, reason: "expected an object, got \(value.kindName)") }
        return members
    }

    /// `value` as an array's elements.
    static func array(_ value: JSONValue, at path: String) throws -> [JSONValue] {
        guard let elements = value.elements else { throw ConfigError(keyPath: path, reason: "expected an array, got \(value.kindName)") }
        return elements
    }

    static func string(_ value: JSONValue, at path: String) throws -> String {
        guard let s = value.string else { throw ConfigError(keyPath: path, reason: "expected a string, got \(value.kindName)") }
        return s
    }

    static func bool(_ value: JSONValue, at path: String) throws -> Bool {
        guard case .bool(let b) = value else { throw ConfigError(keyPath: path, reason: "expected a boolean, got \(value.kindName)") }
        return b
    }

    /// A finite number.
    static func number(_ value: JSONValue, at path: String) throws -> Double {
        guard let x = value.number else { throw ConfigError(keyPath: path, reason: "expected a number, got \(value.kindName)") }
        guard x.isFinite else { throw ConfigError(keyPath: path, reason: "expected a finite number, got a number too large for a double") }
        return x
    }

    /// A number that must be strictly positive.
    static func positiveNumber(_ value: JSONValue, at path: String) throws -> Double {
        let x = try number(value, at: path)
        guard x > 0 else { throw ConfigError(keyPath: path, reason: "must be > 0, got \(JSONValue.format(x))") }
        return x
    }

    /// Largest integer a JSON number (a double) holds exactly: 2^53.
    static let largestExactInteger: Double = 9_007_199_254_740_992

    /// A whole number in `minimum...2^53`.
    static func integer(_ value: JSONValue, at path: String, atLeast minimum: Int? = nil) throws -> Int {
        guard let x = value.number else { throw ConfigError(keyPath: path, reason: "expected an integer, got \(value.kindName)") }
        guard x.isFinite, x == x.rounded() else {
            throw ConfigError(keyPath: path, reason: "expected an integer, got \(x.isFinite ? JSONValue.format(x) : "a number too large for a double")")
        }
        guard abs(x) <= largestExactInteger else {
            throw ConfigError(keyPath: path, reason: "must be at most \(Int(largestExactInteger)) in magnitude (larger integers lose precision in JSON), got \(JSONValue.format(x))")
        }
        if let minimum, x < Double(minimum) {
            throw ConfigError(keyPath: path, reason: "must be ≥ \(minimum), got \(JSONValue.format(x))")
        }
        return Int(x)
    }

    /// Throws for the first key (in document order) of `members` that is not in `allowed`,
    /// listing the valid keys and the nearest one.
    static func checkKeys(_ members: [JSONValue.Member], allowed: [String], at path: String, owner: String) throws {
        for member in members where !allowed.contains(member.key) {
            var reason = "unknown key in \(owner) (valid: \(allowed.joined(separator: ", ")))"
            if let near = closestMatch(to: member.key, among: allowed) { reason += ". Did you mean '\(near)'?" }
            throw ConfigError(keyPath: ConfigError.join(path, member.key), reason: reason)
        }
    }

    /// The value under `key`, or a "missing required key" error.
    static func required(_ members: [JSONValue.Member], _ key: String, at path: String) throws -> JSONValue {
        guard let value = members.first(where: { $0.key == key })?.value else {
            throw ConfigError(keyPath: ConfigError.join(path, key), reason: "missing required key")
        }
        return value
    }

    /// The value under `key`, if present.
    static func optional(_ members: [JSONValue.Member], _ key: String) -> JSONValue? {
        members.first { $0.key == key }?.value
    }

    /// `[0, 1]` as people write it, for messages.
    static func listText(_ numbers: [Double]) -> String {
        "[" + numbers.map(JSONValue.format).joined(separator: ", ") + "]"
    }
}
