
/// Decodes a `Decodable` config type straight from a `JSONValue` tree, with no JSON text in
/// between: how a materialised candidate becomes a typed `Recipe`.
///
///     let recipe = try candidate.decode(Recipe.self, file: "candidate")
///
/// Numbers convert as `JSONDecoder` converts them (an `Int` must be integral and in range, a
/// `Float` is the nearest float), objects expose their keys in order, and failures are the same
/// one-line `InputFileError` (`file: key.path: reason`) every config file gets.
extension JSONValue {
    public func decode<T: Decodable>(_ type: T.Type, file: String) throws -> T {
        do {
            return try decoded(as: type)
        } catch let error as ConfigError {
            throw InputFileError(file: file, reason: error.description)
        } catch let error as DecodingError {
            throw InputFileError(file: file, reason: describeDecodingError(error))
        } catch let error as CustomStringConvertible {
            throw InputFileError(file: file, reason: error.description)
        }
    }

    /// The value decoded as `type`, throwing what the decoding throws (`ConfigError` from the
    /// config types, `DecodingError` from the containers), for callers that word errors themselves.
    public func decoded<T: Decodable>(as type: T.Type) throws -> T {
        try T(from: JSONValueDecoder(value: self, codingPath: []))
    }
}

private struct JSONValueDecoder: Decoder {
    let value: JSONValue
    let codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else { throw mismatch([String: JSONValue].self, value, codingPath) }
        return KeyedDecodingContainer(KeyedContainer<Key>(members: members, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case .array(let elements) = value else { throw mismatch([JSONValue].self, value, codingPath) }
        return UnkeyedContainer(elements: elements, codingPath: codingPath)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer { SingleValue(value: value, codingPath: codingPath) }
}

private func mismatch(_ type: Any.Type, _ value: JSONValue, _ path: [CodingKey]) -> DecodingError {
    .typeMismatch(type, .init(codingPath: path, debugDescription: "Expected to decode \(kindName(of: type)) but found \(value.kindName) instead."))
}

/// "an integer", "an object"...: what a JSON value of `type` is called in messages.
private func kindName(of type: Any.Type) -> String {
    switch type {
    case is Bool.Type: return "a boolean"
    case is String.Type: return "a string"
    case is Double.Type, is Float.Type: return "a number"
    case is Int.Type, is Int64.Type, is Int32.Type, is UInt64.Type, is UInt32.Type, is UInt8.Type, is UInt.Type: return "an integer"
    case is [JSONValue].Type: return "an array"
    case is [String: JSONValue].Type: return "an object"
    default: return "\(type)"
    }
}

/// A scalar out of a value, converting numbers the way `JSONDecoder` does.
private func scalar<T: Decodable>(_ type: T.Type, _ value: JSONValue, _ path: [CodingKey]) throws -> T {
    func integer<I: FixedWidthInteger>(_: I.Type) throws -> I {
        guard case .number(let x) = value else { throw mismatch(type, value, path) }
        guard x == x.rounded(), let i = I(exactly: x) else {
            throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "Parsed JSON number <\(JSONValue.format(x))> does not fit in \(I.self)."))
        }
        return i
    }
    switch type {
    case is Bool.Type:
        guard case .bool(let b) = value else { throw mismatch(type, value, path) }
        return b as! T
    case is String.Type:
        guard case .string(let s) = value else { throw mismatch(type, value, path) }
        return s as! T
    case is Double.Type:
        guard case .number(let x) = value else { throw mismatch(type, value, path) }
        return x as! T
    case is Float.Type:
        guard case .number(let x) = value else { throw mismatch(type, value, path) }
        return Float(x) as! T
    case is Int.Type: return try integer(Int.self) as! T
    case is Int64.Type: return try integer(Int64.self) as! T
    case is Int32.Type: return try integer(Int32.self) as! T
    case is UInt64.Type: return try integer(UInt64.self) as! T
    case is UInt32.Type: return try integer(UInt32.self) as! T
    case is UInt8.Type: return try integer(UInt8.self) as! T
    case is UInt.Type: return try integer(UInt.self) as! T
    default:
        return try T(from: JSONValueDecoder(value: value, codingPath: path))
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [JSONValue.Member]
    let codingPath: [CodingKey]

    var allKeys: [Key] { members.compactMap { Key(stringValue: $0.key) } }
    func contains(_ key: Key) -> Bool { members.contains { $0.key == key.stringValue } }

    private func value(_ key: Key) throws -> JSONValue {
        guard let m = members.first(where: { $0.key == key.stringValue }) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "No value for key '\(key.stringValue)'."))
        }
        return m.value
    }

    func decodeNil(forKey key: Key) throws -> Bool { try value(key) == .null }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let v = try value(key)
        if v == .null {
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath + [key], debugDescription: "Found null."))
        }
        return try scalar(type, v, codingPath + [key])
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try JSONValueDecoder(value: try value(key), codingPath: codingPath + [key]).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
        try JSONValueDecoder(value: try value(key), codingPath: codingPath + [key]).unkeyedContainer()
    }

    func superDecoder() throws -> Decoder { JSONValueDecoder(value: .object(members), codingPath: codingPath) }
    func superDecoder(forKey key: Key) throws -> Decoder {
        JSONValueDecoder(value: (try? value(key)) ?? .null, codingPath: codingPath + [key])
    }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
    let elements: [JSONValue]
    let codingPath: [CodingKey]
    var currentIndex = 0

    init(elements: [JSONValue], codingPath: [CodingKey]) { self.elements = elements; self.codingPath = codingPath }

    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }
    private var path: [CodingKey] { codingPath + [AnyKey(intValue: currentIndex)] }

    private mutating func next(_ type: Any.Type) throws -> JSONValue {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, .init(codingPath: path, debugDescription: "Unkeyed container is at end."))
        }
        defer { currentIndex += 1 }
        return elements[currentIndex]
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, elements[currentIndex] == .null else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let at = path
        let v = try next(type)
        if v == .null { throw DecodingError.valueNotFound(type, .init(codingPath: at, debugDescription: "Found null.")) }
        return try scalar(type, v, at)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let at = path
        return try JSONValueDecoder(value: try next([String: JSONValue].self), codingPath: at).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer {
        let at = path
        return try JSONValueDecoder(value: try next([JSONValue].self), codingPath: at).unkeyedContainer()
    }

    mutating func superDecoder() throws -> Decoder {
        let at = path
        return JSONValueDecoder(value: try next(JSONValue.self), codingPath: at)
    }
}

private struct SingleValue: SingleValueDecodingContainer {
    let value: JSONValue
    let codingPath: [CodingKey]
    func decodeNil() -> Bool { value == .null }
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if value == .null { throw DecodingError.valueNotFound(type, .init(codingPath: codingPath, debugDescription: "Found null.")) }
        return try scalar(type, value, codingPath)
    }
}
