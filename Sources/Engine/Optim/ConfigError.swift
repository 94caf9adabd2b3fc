/// A value in a configuration document that cannot be used: where it is and why, on one line.
///
///     throw ConfigError(keyPath: "training.optimizer.lr", reason: "must be positive, got -1")
///     // prints as: training.optimizer.lr: must be positive, got -1
///
/// Config types decode with their own `init(from:)`, take the key path from the decoder's
/// `codingPath` and throw this instead of trapping or failing silently, so a study can print the
/// message and stop cleanly. The helpers below cover what every config type needs: joining key
/// paths, rejecting unknown keys and names with a "Did you mean …?", and turning a decoding type
/// mismatch into a reason.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    /// Dotted path of the offending value (`training.optimizer.betas[1]`); empty for the document.
    public let keyPath: String
    /// What is wrong, with the offending value where there is one.
    public let reason: String

    public init(keyPath: String, reason: String) {
        self.keyPath = keyPath
        self.reason = reason
    }

    public var description: String { keyPath.isEmpty ? reason : "\(keyPath): \(reason)" }
}

extension ConfigError {
    /// `training.optimizer` from a decoder's coding path; array positions print as `[2]`.
    public static func keyPath(_ codingPath: [CodingKey]) -> String {
        codingPath.reduce("") { path, key in
            if let index = key.intValue { return path + "[\(index)]" }
            return join(path, key.stringValue)
        }
    }

    /// `parent.key`, or `key` alone at the top of a document.
    public static func join(_ parent: String, _ key: String) -> String {
        parent.isEmpty ? key : "\(parent).\(key)"
    }

    /// A number as a person wrote it: `-1` rather than `-1.0`, `0.001` rather than `1e-03`.
    public static func format(_ value: Float) -> String {
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// An unknown name among `names`, listing the valid ones and the nearest by edit distance:
    /// `unknown optimizer 'adamx' (valid: adamw, adam, sgd, lamb). Did you mean 'adamw'?`
    public static func unknownName(_ name: String, kind: String, among names: [String], keyPath: String) -> ConfigError {
        var reason = "unknown \(kind) '\(name)' (valid: \(names.joined(separator: ", ")))"
        if let near = closestMatch(to: name, among: names) { reason += ". Did you mean '\(near)'?" }
        return ConfigError(keyPath: keyPath, reason: reason)
    }

    /// Throws for the first key (in sorted order) of the object `decoder` is at that is not in
    /// `allowed`: keys in `otherKeys` belong to another variant ("not an option of …"), anything
    /// else is unknown and gets a suggestion among `allowed`.
    public static func rejectUnknownKeys(in decoder: Decoder, allowed: [String], otherKeys: [String] = [],
                                         owner: String) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        let path = keyPath(decoder.codingPath)
        for key in container.allKeys.map(\.stringValue).sorted() where !allowed.contains(key) {
            if otherKeys.contains(key) {
                throw ConfigError(keyPath: join(path, key),
                                  reason: "not an option of \(owner) (its options: \(allowed.joined(separator: ", ")))")
            }
            var reason = "unknown key in \(owner) (valid: \(allowed.joined(separator: ", ")))"
            if let near = closestMatch(to: key, among: allowed) { reason += ". Did you mean '\(near)'?" }
            throw ConfigError(keyPath: join(path, key), reason: reason)
        }
    }
}

/// Any key of a JSON object, for listing the keys a document actually has.
public struct AnyKey: CodingKey {
    public var stringValue: String
    public var intValue: Int?
    public init(stringValue: String) { self.stringValue = stringValue }
    public init(intValue: Int) { stringValue = String(intValue); self.intValue = intValue }
}

extension KeyedDecodingContainer {
    /// The value at `key` if present (nil if absent or null); a value of the wrong type throws a
    /// `ConfigError` saying what was `expected` ("a number") at the key's full path.
    public func configValue<T: Decodable>(_ type: T.Type, _ key: Key, expected: String) throws -> T? {
        do {
            return try decodeIfPresent(type, forKey: key)
        } catch is DecodingError {
            throw ConfigError(keyPath: ConfigError.keyPath(codingPath + [key]), reason: "expected \(expected)")
        }
    }
}
