import Engine
import Foundation

/// What a command line asks for once its subcommands are resolved.
enum Invocation {
    /// Print the help of `command` (from `-h`, `--help`, `help …`, or a group given nothing).
    case help(any Command.Type, path: [String])
    /// Run a parsed and validated command.
    case run(any Command, path: [String])
}

/// Walks the command tree, parses, validates and runs; the one place where errors become
/// text on stderr and an exit status.
///
///     let status = CommandRunner(root: AutotuneCommand.self).run(["eval", "x.json", "--json"])
struct CommandRunner {
    let root: any Command.Type

    /// Runs the command line (without the program name) and returns the exit status.
    func run(_ arguments: [String]) -> Int32 {
        var path = [root.configuration.name]
        do {
            switch try resolve(arguments, path: &path) {
            case .help(let command, let helpPath):
                print(Help.render(command.configuration, path: helpPath), terminator: "")
                return 0
            case .run(let command, _):
                return try command.run()
            }
        } catch {
            fflush(stdout)
            let text = ErrorReport.lines(for: error, commandPath: path).map { $0 + "\n" }.joined()
            FileHandle.standardError.write(Data(text.utf8))
            return ErrorReport.exitCode(for: error)
        }
    }

    /// Finds the command the tokens name, then parses, builds and validates it.
    /// - Parameters:
    ///   - arguments: the command line without the program name.
    ///   - path: starts as `[root name]`; extended with each subcommand entered, so that after
    ///     an error it names the command whose `--help` the user should read.
    func resolve(_ arguments: [String], path: inout [String]) throws -> Invocation {
        var command = root
        var rest = arguments[...]
        while !command.configuration.subcommands.isEmpty, let first = rest.first {
            if let subcommand = command.configuration.subcommand(named: first) {
                command = subcommand
                path.append(first)
                rest = rest.dropFirst()
            } else if first == "help" {
                return try helpTarget(Array(rest.dropFirst()), from: command, path: &path)
            } else if ArgumentParser.looksLikeOption(first) {
                break
            } else {
                let names = command.configuration.subcommands.map { $0.configuration.name } + ["help"]
                throw CLIError.unknownCommand(first, suggestion: closestMatch(to: first, among: names))
            }
        }
        if rest.isEmpty, !command.configuration.subcommands.isEmpty {
            return .help(command, path: path)
        }
        if rest.prefix(while: { $0 != "--" }).contains(where: { $0 == "-h" || $0 == "--help" }) {
            return .help(command, path: path)
        }
        let values = try ArgumentParser.parse(Array(rest), for: command.configuration)
        let instance = try command.init(values)
        try instance.validate()
        return .run(instance, path: path)
    }

    /// `help bench engine`: the command reached by following the names from `command`.
    private func helpTarget(_ names: [String], from command: any Command.Type,
                            path: inout [String]) throws -> Invocation {
        var command = command
        for name in names {
            guard let subcommand = command.configuration.subcommand(named: name) else {
                let known = command.configuration.subcommands.map { $0.configuration.name }
                throw CLIError.unknownCommand(name, suggestion: closestMatch(to: name, among: known))
            }
            command = subcommand
            path.append(name)
        }
        return .help(command, path: path)
    }
}
