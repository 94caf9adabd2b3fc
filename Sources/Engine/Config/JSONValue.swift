import Foundation

/// A JSON document as a value: what a space file's fixed parts, a choice's options and a
/// materialised candidate are made of. Objects keep their keys in the order written, so a candidate
/// prints the way its space was laid out.
///
///     let v: JSONValue = .object([("family", .string("mlp")), ("widths", .array([.number(128)]))])
///     v.compactText   // {"family":"mlp","widths":[128]}
public indirect enum JSONValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([Member])

    public struct Member: Hashable, Sendable {
        public var key: String
        public var value: JSONValue
        public init(_ key: String, _ value: JSONValue) { self.key = key; self.value = value }
    }

    public static func object(_ pairs: [(String, JSONValue)]) -> JSONValue {
        .object(pairs.map { Member($0.0, $0.1) })
    }

    /// The value under `key` when this is an object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    /// The value at a dotted key path with array positions (`architecture.stages[1].channels`),
    /// or nil when the document has none there.
    public func value(atKeyPath path: String) -> JSONValue? {
        var value: JSONValue? = self
        for part in path.split(separator: ".") {
            var name = Substring(part)
            var indices: [Int] = []
            while name.hasSuffix("]"), let open = name.lastIndex(of: "["), let i = Int(name[name.index(after: open)..<name.index(before: name.endIndex)]) {
                indices.insert(i, at: 0)
                name = name[..<open]
            }
            if !name.isEmpty { value = value?[String(name)] }
            for i in indices { value = value?.elements.flatMap { i >= 0 && i < $0.count ? $0[i] : nil } }
        }
        return value
    }

    public var number: Double? { if case .number(let x) = self { return x } else { return nil } }
    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    public var members: [Member]? { if case .object(let m) = self { return m } else { return nil } }
    public var elements: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }

    /// What kind of JSON value this is, for error messages ("expected a number, got a string").
    public var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

// MARK: - Text

extension JSONValue {
    /// Parse JSON text, keeping object keys in order. Malformed text throws `JSONSyntaxError`
    /// with the line and column.
    public init(parsing data: Data) throws {
        var parser = JSONParser(bytes: [UInt8](data))
        self = try parser.document()
    }

    public init(parsing text: String) throws { try self.init(parsing: Data(text.utf8)) }

    /// One line, no spaces: how parameters and candidates are stored.
    public var compactText: String {
        var out = ""
        write(to: &out, indent: nil, level: 0)
        return out
    }

    /// Indented two spaces per level: how candidates are printed for people.
    public var prettyText: String {
        var out = ""
        write(to: &out, indent: "  ", level: 0)
        return out
    }

    /// Integral numbers print without a fraction (`128`, not `128.0`), so decoders that want an
    /// `Int` accept them.
    public static func format(_ x: Double) -> String {
        if x.isFinite, x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
        if !x.isFinite { return "null" }
        return "\(x)"
    }

    private func write(to out: inout String, indent: String?, level: Int) {
        func newline(_ level: Int) {
            guard let indent else { return }
            out += "\n" + String(repeating: indent, count: level)
        }
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let x): out += JSONValue.format(x)
        case .string(let s): out += JSONValue.quoted(s)
        case .array(let a):
            if a.isEmpty { out += "[]"; return }
            let flat = indent == nil || a.allSatisfy { if case .array = $0 { return false }; if case .object = $0 { return false }; return true }
            out += "["
            for (i, e) in a.enumerated() {
                if i > 0 { out += flat && indent != nil ? ", " : "," }
                if !flat { newline(level + 1) }
                e.write(to: &out, indent: indent, level: level + 1)
            }
            if !flat { newline(level) }
            out += "]"
        case .object(let m):
            if m.isEmpty { out += "{}"; return }
            out += "{"
            for (i, member) in m.enumerated() {
                if i > 0 { out += "," }
                newline(level + 1)
                out += JSONValue.quoted(member.key) + (indent == nil ? ":" : ": ")
                member.value.write(to: &out, indent: indent, level: level + 1)
            }
            newline(level)
            out += "}"
        }
    }

    /// `s` as a JSON string literal, quotes and control characters escaped.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20: out += String(format: "\\u%04x", c.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
