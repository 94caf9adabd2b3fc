import Foundation

/// An error that chooses the process exit status it ends with.
///
/// Errors that do not conform end the process with 1. The executable may extend a library's
/// input errors so that a bad file exits with 2:
///
///     extension DataFileError: ExitCoded { var exitCode: Int32 { 2 } }
protocol ExitCoded: Error {
    var exitCode: Int32 { get }
}

/// Everything the command line itself can get wrong, plus runtime failures of commands.
///
/// Usage errors and bad input exit with 2, runtime failures with 1. `description` is the one-line
/// reason printed after `autotune: error: `, with a "Did you mean …?" when there is a near match.
enum CLIError: Error, Equatable, ExitCoded, CustomStringConvertible {
    /// `--jsn`; `suggestion` is the closest declared spelling.
    case unknownOption(String, suggestion: String?)
    /// `evl`; `suggestion` is the closest subcommand name.
    case unknownCommand(String, suggestion: String?)
    /// A group command (`bench`) was given options but no subcommand.
    case missingSubcommand([String])
    /// `--threads` at the end of the line, or followed by another option.
    case missingValue(option: String)
    /// A required positional argument, by its value name.
    case missingArgument(String)
    /// A positional value no argument takes.
    case unexpectedArgument(String)
    /// `--json=yes`.
    case flagWithValue(option: String)
    /// A value that does not convert or is out of range; `name` is `--threads` or `CANDIDATE.json`.
    case invalidValue(name: String, value: String, reason: String, suggestion: String? = nil)
    /// Two options that cannot be given together (`--db` and `--storage`), and why.
    case conflictingOptions(String, String, reason: String)
    /// A bad input file or document (exit 2, no usage hint).
    case badInput(String)
    /// The command was used correctly but failed (exit 1).
    case runtime(String)

    var exitCode: Int32 {
        if case .runtime = self { return 1 }
        return 2
    }

    /// Whether the user should be pointed at `--help`.
    var isUsageError: Bool {
        switch self {
        case .badInput, .runtime: return false
        default: return true
        }
    }

    var reason: String {
        switch self {
        case .unknownOption(let option, _): return "unknown option '\(option)'"
        case .unknownCommand(let command, _): return "unknown command '\(command)'"
        case .missingSubcommand(let names):
            return "missing subcommand (one of \(names.joined(separator: ", ")))"
        case .missingValue(let option): return "missing value for '\(option)'"
        case .missingArgument(let name): return "missing argument '\(name)'"
        case .unexpectedArgument(let value): return "unexpected argument '\(value)'"
        case .flagWithValue(let option): return "'\(option)' is a flag and takes no value"
        case .invalidValue(let name, let value, let reason, _):
            return "invalid value '\(value)' for '\(name)': \(reason)"
        case .conflictingOptions(let first, let second, let reason):
            return "'\(first)' and '\(second)' cannot be given together: \(reason)"
        case .badInput(let reason), .runtime(let reason): return reason
        }
    }

    var suggestion: String? {
        switch self {
        case .unknownOption(_, let suggestion), .unknownCommand(_, let suggestion),
             .invalidValue(_, _, _, let suggestion):
            return suggestion
        default: return nil
        }
    }

    var description: String {
        guard let suggestion else { return reason }
        return "\(reason). Did you mean '\(suggestion)'?"
    }
}

/// Throws `CLIError.invalidValue` unless `value >= minimum`.
func requireAtLeast(_ minimum: Int, _ value: Int, for name: String) throws {
    guard value >= minimum else {
        throw CLIError.invalidValue(name: name, value: String(value), reason: "must be at least \(minimum)")
    }
}

/// Turns any thrown error into the lines printed on stderr and the exit status.
enum ErrorReport {
    /// `autotune: error: <reason>`, then for usage errors `See 'autotune eval --help'.`
    /// - Parameters:
    ///   - error: anything a command or the parser threw.
    ///   - commandPath: the command the error happened in, from the root (`["autotune", "eval"]`).
    static func lines(for error: any Error, commandPath: [String]) -> [String] {
        let program = commandPath.first ?? "autotune"
        var lines = ["\(program): error: \(reason(for: error))"]
        if let cliError = error as? CLIError, cliError.isUsageError {
            lines.append("See '\((commandPath + ["--help"]).joined(separator: " "))'.")
        }
        return lines
    }

    /// 2 for usage and input errors, the error's own choice for `ExitCoded`, 1 otherwise.
    static func exitCode(for error: any Error) -> Int32 {
        (error as? any ExitCoded)?.exitCode ?? 1
    }

    /// The one-line reason: a library error's own description where it has one.
    ///
    /// Foundation's errors (file not found...) read best as their localized description; any
    /// other `CustomStringConvertible` error (`data.csv: line 3: bad label`) as its description.
    static func reason(for error: any Error) -> String {
        let text: String
        if type(of: error) is NSError.Type || error is CocoaError || error is POSIXError {
            text = (error as NSError).localizedDescription
        } else if let described = (error as Any) as? any CustomStringConvertible {
            text = described.description
        } else if let localized = (error as? any LocalizedError)?.errorDescription {
            text = localized
        } else {
            text = String(describing: error)
        }
        return text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
