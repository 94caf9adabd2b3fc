import Foundation

/// A problem with an input file: the file, where in it, and why, on one line.
///
///     cand.json: architecture.heads: 5 does not divide dim 64
///     cand.json: line 3, column 7: malformed JSON
public struct InputFileError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let reason: String
    public init(file: String, reason: String) { self.file = file; self.reason = reason }
    public var description: String { "\(file): \(reason)" }
}

/// Read and decode a JSON config file, turning every failure into one `InputFileError` line.
public func loadJSONConfig<T: Decodable>(_ type: T.Type, path: String) throws -> T {
    guard FileManager.default.fileExists(atPath: path) else { throw InputFileError(file: path, reason: "no such file") }
    guard let data = FileManager.default.contents(atPath: path) else { throw InputFileError(file: path, reason: "cannot read file") }
    return try decodeJSONConfig(type, from: data, file: path)
}

/// Decode JSON `data` (named `file` in errors).
public func decodeJSONConfig<T: Decodable>(_ type: T.Type, from data: Data, file: String) throws -> T {
    do {
        return try JSONDecoder().decode(type, from: data)
    } catch let error as ConfigError {
        throw InputFileError(file: file, reason: error.description)
    } catch let error as DecodingError {
        throw InputFileError(file: file, reason: error.isMalformedDocument ? malformedJSON(data) : describeDecodingError(error))
    } catch let error as CustomStringConvertible {
        throw InputFileError(file: file, reason: error.description)
    }
}

/// A decoding failure as one line, "key.path: reason", the way config errors read.
public func describeDecodingError(_ error: DecodingError) -> String {
    func at(_ path: [CodingKey]) -> String { path.isEmpty ? "top level" : ConfigError.keyPath(path) }
    func clean(_ s: String) -> String { s.hasSuffix(".") ? String(s.dropLast()) : s }
    switch error {
    case .typeMismatch(_, let c):
        return "\(at(c.codingPath)): \(clean(c.debugDescription).replacingOccurrences(of: "Expected to decode", with: "expected"))"
    case .valueNotFound(_, let c):
        return "\(at(c.codingPath)): expected a value, found null"
    case .keyNotFound(let key, let c):
        return "\(ConfigError.keyPath(c.codingPath + [key])): missing required key"
    case .dataCorrupted(let c):
        return "\(at(c.codingPath)): \(clean(c.debugDescription))"
    @unknown default:
        return "\(error)"
    }
}

extension DecodingError {
    /// The text is not JSON at all (rather than JSON of the wrong shape).
    var isMalformedDocument: Bool {
        if case .dataCorrupted(let c) = self { return c.codingPath.isEmpty }
        return false
    }
}

/// "line L, column C: malformed JSON (…)" from the parser's character offset.
private func malformedJSON(_ data: Data) -> String {
    do {
        _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        return "malformed JSON"
    } catch {
        let message = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
        guard let r = message.range(of: "character "),
              let offset = Int(message[r.upperBound...].prefix { $0.isNumber }) else {
            return "malformed JSON (\(message))"
        }
        var line = 1, column = 1
        for (i, byte) in data.enumerated() where i < offset {
            if byte == UInt8(ascii: "\n") { line += 1; column = 1 } else { column += 1 }
        }
        let reason = message.components(separatedBy: " around").first ?? message
        return "line \(line), column \(column): malformed JSON (\(reason.lowercased()))"
    }
}

extension Decoder {
    /// The key path of this decoder's position, for error messages.
    public var keyPath: String { ConfigError.keyPath(codingPath) }

    /// `path.key` under this decoder's position.
    public func keyPath(_ key: String) -> String { ConfigError.join(keyPath, key) }
}
