import Engine

/// The `{name}` placeholders of a command's arguments and their substitution by a candidate's
/// parameter values. `{{` and `}}` stand for literal braces.
///
///     try CommandArguments.substitute(["train", "--lr={lr}", "--widths={widths}", "{{x}}"],
///                                     parameters: [("training.lr", .number(0.01)), ("widths", .array([.number(64)]))])
///     // ["train", "--lr=0.01", "--widths=[64]", "{x}"]
public enum CommandArguments {
    /// A piece of an argument: literal text or the name inside a placeholder.
    enum Piece: Equatable { case text(String), placeholder(String) }

    /// The placeholder names in `argv`, in order of appearance (for checking a space file early).
    /// - Throws: `EvaluationError` for an unbalanced or empty brace.
    public static func placeholders(in argv: [String]) throws -> [String] {
        try argv.flatMap { try pieces(of: $0) }.compactMap { if case .placeholder(let name) = $0 { return name } else { return nil } }
    }

    /// `argv` with each placeholder replaced by its parameter's value: strings verbatim, numbers as
    /// JSON numbers (integral ones without a fraction), anything else as compact JSON.
    /// - Throws: `EvaluationError` naming an unknown or ambiguous placeholder, or a malformed brace.
    public static func substitute(_ argv: [String], parameters: [(name: String, value: JSONValue)]) throws -> [String] {
        try argv.map { argument in
            try pieces(of: argument).map { piece in
                switch piece {
                case .text(let text): return text
                case .placeholder(let name): return text(of: try value(of: name, in: parameters))
                }
            }.joined()
        }
    }

    /// `argv` with `{{` and `}}` unescaped, for a command that takes no placeholders.
    /// - Throws: `EvaluationError` naming the first placeholder, or a malformed brace.
    static func literal(_ argv: [String], reason: String) throws -> [String] {
        try argv.map { argument in
            try pieces(of: argument).map { piece in
                switch piece {
                case .text(let text): return text
                case .placeholder(let name): throw EvaluationError("placeholder '{\(name)}' in '\(argument)': \(reason)")
                }
            }.joined()
        }
    }

    /// Split one argument into literal text and placeholders.
    static func pieces(of argument: String) throws -> [Piece] {
        var pieces: [Piece] = []
        var text = ""
        var name: String?
        var characters = argument.makeIterator()
        var lookahead: Character?
        func next() -> Character? {
            if let c = lookahead { lookahead = nil; return c }
            return characters.next()
        }
        while let c = next() {
            if var current = name {
                switch c {
                case "}":
                    guard !current.isEmpty else { throw EvaluationError("empty placeholder '{}' in '\(argument)' (write '{{}}' for literal braces)") }
                    pieces.append(.placeholder(current))
                    name = nil
                case "{":
                    throw EvaluationError("'{' inside the placeholder '{\(current)' in '\(argument)'")
                default:
                    current.append(c)
                    name = current
                }
                continue
            }
            switch c {
            case "{", "}":
                let following = next()
                if following == c { text.append(c); continue }
                lookahead = following
                guard c == "{" else { throw EvaluationError("'}' without an opening '{' in '\(argument)' (write '}}' for a literal brace)") }
                if !text.isEmpty { pieces.append(.text(text)); text = "" }
                name = ""
            default:
                text.append(c)
            }
        }
        if name != nil { throw EvaluationError("'{' without a closing '}' in '\(argument)' (write '{{' for a literal brace)") }
        if !text.isEmpty { pieces.append(.text(text)) }
        return pieces
    }

    /// The parameter whose full key path is `name`, else the one whose last key is `name`.
    static func value(of name: String, in parameters: [(name: String, value: JSONValue)]) throws -> JSONValue {
        if let exact = parameters.first(where: { $0.name == name }) { return exact.value }
        let byLastKey = parameters.filter { lastKey(of: $0.name) == name }
        if byLastKey.count == 1 { return byLastKey[0].value }
        if byLastKey.count > 1 {
            throw EvaluationError("placeholder '{\(name)}' matches several parameters (\(byLastKey.map(\.name).joined(separator: ", "))); write the full key path")
        }
        let known = parameters.prefix(12).map(\.name).joined(separator: ", ") + (parameters.count > 12 ? ", …" : "")
        throw EvaluationError("unknown placeholder '{\(name)}': no parameter has that key path or last key"
                              + (parameters.isEmpty ? "" : " (parameters: \(known))"))
    }

    /// `training.lr` → `lr`; `stages[0].channels` → `channels`.
    static func lastKey(of keyPath: String) -> Substring {
        keyPath.lastIndex(of: ".").map { keyPath[keyPath.index(after: $0)...] } ?? keyPath[...]
    }

    /// How a value appears in an argument.
    static func text(of value: JSONValue) -> String {
        switch value {
        case .string(let s): return s
        case .number(let x): return JSONValue.format(x)
        default: return value.compactText
        }
    }
}
