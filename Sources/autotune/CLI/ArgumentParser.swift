import Engine
import Foundation

/// Splits one command's tokens (everything after its name) into flags, option values and
/// positional arguments, checked against the command's declarations.
///
/// Accepted: `--name value`, `--name=value`, flags, positional values anywhere, and `--`, after
/// which every token is positional. A value may start with `-` only when it is a number or `-`
/// itself, so `--data-dir --json` is a missing value rather than a directory called `--json`.
/// `-h`/`--help` is handled by the runner before parsing.
///
///     let values = try ArgumentParser.parse(["x.json", "--threads=4"], for: EvalCommand.configuration)
///     try values.value("threads", as: Int.self)   // 4
enum ArgumentParser {
    static func parse(_ tokens: [String], for configuration: CommandConfiguration) throws -> ParsedValues {
        var values = ParsedValues(configuration: configuration)
        var positionals: [String] = []
        var index = 0
        var optionsEnded = false
        while index < tokens.count {
            let token = tokens[index]
            index += 1
            if optionsEnded || !looksLikeOption(token) {
                positionals.append(token)
                continue
            }
            if token == "--" {
                optionsEnded = true
                continue
            }
            let (spelling, inlineValue) = splitInlineValue(token)
            guard spelling.hasPrefix("--"), let option = configuration.option(named: String(spelling.dropFirst(2)))
            else {
                let known = configuration.options.map(\.spelling) + ["--help"]
                throw CLIError.unknownOption(spelling, suggestion: closestMatch(to: spelling, among: known))
            }
            switch option.kind {
            case .flag:
                if inlineValue != nil { throw CLIError.flagWithValue(option: spelling) }
                values.flags.insert(option.name)
            case .value:
                if let inlineValue {
                    values.options[option.name, default: []].append(inlineValue)
                } else if index < tokens.count, !looksLikeOption(tokens[index]) {
                    values.options[option.name, default: []].append(tokens[index])
                    index += 1
                } else {
                    throw CLIError.missingValue(option: spelling)
                }
            }
        }
        try assign(positionals, to: configuration.arguments, in: &values)
        return values
    }

    /// Whether `token` is an option rather than a value: `-` alone and negative numbers are values.
    static func looksLikeOption(_ token: String) -> Bool {
        token.hasPrefix("-") && token != "-" && Double(token) == nil
    }

    private static func splitInlineValue(_ token: String) -> (spelling: String, value: String?) {
        guard token.hasPrefix("--"), let equals = token.firstIndex(of: "=") else { return (token, nil) }
        return (String(token[..<equals]), String(token[token.index(after: equals)...]))
    }

    /// Hands positional values to the declared arguments in order; the last may take the rest.
    private static func assign(_ positionals: [String], to arguments: [Argument],
                               in values: inout ParsedValues) throws {
        var remaining = positionals[...]
        for argument in arguments {
            if argument.isRepeated {
                values.arguments[argument.name] = Array(remaining)
                remaining = []
            } else if let first = remaining.popFirst() {
                values.arguments[argument.name] = [first]
            } else if !argument.isOptional {
                throw CLIError.missingArgument(argument.valueName)
            }
        }
        if let extra = remaining.first { throw CLIError.unexpectedArgument(extra) }
    }
}

/// The result of parsing one command's tokens, read by name into typed values.
///
/// Reading a name the command did not declare is a programming error and stops the program.
struct ParsedValues {
    let configuration: CommandConfiguration
    var flags: Set<String> = []
    /// Every value given for each option, in order.
    var options: [String: [String]] = [:]
    /// The positional values each argument took.
    var arguments: [String: [String]] = [:]

    init(configuration: CommandConfiguration) {
        self.configuration = configuration
    }

    /// Whether the flag was given.
    func flag(_ name: String) -> Bool {
        precondition(declaredOption(name).kind == .flag, "'\(name)' is not a flag")
        return flags.contains(name)
    }

    /// The option's last value, else its declared default, else `nil`.
    func optionalValue<T: ArgumentValue>(_ name: String, as type: T.Type = T.self) throws -> T? {
        let option = declaredOption(name)
        guard let text = options[name]?.last ?? option.defaultValue else { return nil }
        return try T.convert(text, for: option.spelling)
    }

    /// The option's last value or its declared default; throws when it has neither.
    func value<T: ArgumentValue>(_ name: String, as type: T.Type = T.self) throws -> T {
        guard let value = try optionalValue(name, as: T.self) else {
            throw CLIError.missingValue(option: declaredOption(name).spelling)
        }
        return value
    }

    /// Every value of a repeatable, comma-separated option: `--only mlp,cnn` or `--only mlp --only cnn`.
    /// Falls back to the declared default; empty items are skipped.
    func list<T: ArgumentValue>(_ name: String, as type: T.Type = T.self) throws -> [T] {
        let option = declaredOption(name)
        let given = options[name] ?? option.defaultValue.map { [$0] } ?? []
        return try given
            .flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .map { try T.convert($0, for: option.spelling) }
    }

    /// `list`, each value once, in the order first given: `--only mlp,cnn,mlp` is [mlp, cnn].
    func uniqueList<T: ArgumentValue & Equatable>(_ name: String, as type: T.Type = T.self) throws -> [T] {
        var unique: [T] = []
        for value in try list(name, as: T.self) where !unique.contains(value) { unique.append(value) }
        return unique
    }

    /// The value of a positional argument; throws when an optional one was left out.
    func argument<T: ArgumentValue>(_ name: String, as type: T.Type = T.self) throws -> T {
        let argument = declaredArgument(name)
        guard let text = arguments[name]?.first else { throw CLIError.missingArgument(argument.valueName) }
        return try T.convert(text, for: argument.valueName)
    }

    /// The values of a positional argument, none when it was left out.
    func argumentValues<T: ArgumentValue>(_ name: String, as type: T.Type = T.self) throws -> [T] {
        let argument = declaredArgument(name)
        return try (arguments[name] ?? []).map { try T.convert($0, for: argument.valueName) }
    }

    private func declaredOption(_ name: String) -> Option {
        guard let option = configuration.option(named: name) else {
            preconditionFailure("'\(configuration.name)' declares no option '\(name)'")
        }
        return option
    }

    private func declaredArgument(_ name: String) -> Argument {
        guard let argument = configuration.arguments.first(where: { $0.name == name }) else {
            preconditionFailure("'\(configuration.name)' declares no argument '\(name)'")
        }
        return argument
    }
}
