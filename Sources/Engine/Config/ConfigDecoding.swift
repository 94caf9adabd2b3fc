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

/// Decode JSON `data` (named `file` in errors). The text is parsed strictly, as space files are
/// (a duplicate key or a trailing comma is an error with its line and column), then decoded from
/// the parsed document.
public func decodeJSONConfig<T: Decodable>(_ type: T.Type, from data: Data, file: String) throws -> T {
    let document: JSONValue
    do { document = try JSONValue(parsing: data) } catch let error as JSONSyntaxError {
        throw InputFileError(file: file, reason: error.description)
    }
    return try document.decode(type, file: file)
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

extension Decoder {
    /// The key path of this decoder's position, for error messages.
    public var keyPath: String { ConfigError.keyPath(codingPath) }

    /// `path.key` under this decoder's position.
    public func keyPath(_ key: String) -> String { ConfigError.join(keyPath, key) }
}
