/// A command of the `autotune` executable: a name, an abstract, declared arguments and options,
/// optional subcommands, and the two steps that follow parsing.
///
/// The runner parses the command line against `configuration`, hands the result to
/// `init(_:)` (which reads it into typed properties), then calls `validate()` and `run()`.
///
///     struct GreetCommand: Command {
///         static let configuration = CommandConfiguration(
///             name: "greet",
///             abstract: "Greet someone.",
///             arguments: [Argument("who", valueName: "NAME", help: "Who to greet.")],
///             options: [.value("times", valueName: "N", help: "Repetitions.", default: "1"),
///                       .flag("loud", help: "Shout.")])
///
///         var who: String, times: Int, loud: Bool
///
///         init(_ values: ParsedValues) throws {
///             who = try values.argument("who")
///             times = try values.value("times")
///             loud = values.flag("loud")
///         }
///         func validate() throws { try requireAtLeast(1, times, for: "--times") }
///         func run() throws -> Int32 {
///             for _ in 0..<times { print(loud ? who.uppercased() : who) }
///             return 0
///         }
///     }
protocol Command {
    /// What the command is called, what it takes and which subcommands it has.
    static var configuration: CommandConfiguration { get }

    /// Reads parsed values into typed properties; conversion failures throw `CLIError`.
    init(_ values: ParsedValues) throws

    /// Checks ranges and combinations of values. Throw `CLIError.invalidValue` to exit with 2.
    func validate() throws

    /// Does the work. Returns the process exit status; a thrown error is reported by the runner.
    func run() throws -> Int32
}

extension Command {
    func validate() throws {}

    /// A command that only groups subcommands is never run on its own.
    func run() throws -> Int32 {
        throw CLIError.missingSubcommand(
            Self.configuration.subcommands.map { $0.configuration.name })
    }
}

/// The static description of a command, from which the parser, the help and the usage line come.
struct CommandConfiguration {
    /// The word typed on the command line (`eval`).
    var name: String
    /// One sentence shown in OVERVIEW and in the parent's SUBCOMMANDS list.
    var abstract: String
    /// The usage line after the command path; generated from the declarations when `nil`.
    var usage: String?
    /// Positional arguments in order. Only the last may be repeated.
    var arguments: [Argument]
    /// Options and flags. `-h`/`--help` is added by the runner and must not be declared.
    var options: [Option]
    /// Subcommands, in the order the help lists them.
    var subcommands: [any Command.Type]

    init(name: String, abstract: String, usage: String? = nil, arguments: [Argument] = [],
         options: [Option] = [], subcommands: [any Command.Type] = []) {
        self.name = name
        self.abstract = abstract
        self.usage = usage
        self.arguments = arguments
        self.options = options
        self.subcommands = subcommands
    }

    /// The subcommand called `name`, if any.
    func subcommand(named name: String) -> (any Command.Type)? {
        subcommands.first { $0.configuration.name == name }
    }

    /// The declared option called `name` (without dashes), if any.
    func option(named name: String) -> Option? {
        options.first { $0.name == name }
    }
}

/// A positional argument such as `CANDIDATE.json`.
struct Argument: Sendable {
    /// The key the command reads the value by.
    var name: String
    /// How the argument is shown in usage, help and errors.
    var valueName: String
    var help: String
    /// May be left out.
    var isOptional: Bool
    /// Takes every remaining positional value (`FILE...`); implies optional.
    var isRepeated: Bool

    init(_ name: String, valueName: String? = nil, help: String, isOptional: Bool = false,
         isRepeated: Bool = false) {
        self.name = name
        self.valueName = valueName ?? name.uppercased()
        self.help = help
        self.isOptional = isOptional || isRepeated
        self.isRepeated = isRepeated
    }
}

/// A named option: a flag (`--json`) or an option with a value (`--threads N`, `--threads=N`).
struct Option: Sendable {
    enum Kind: Sendable { case flag, value }

    /// The long name without dashes (`threads`).
    var name: String
    var kind: Kind
    /// How the value is shown in usage and help (`N`); empty for flags.
    var valueName: String
    var help: String
    /// The value used when the option is absent, as it would be typed.
    var defaultValue: String?
    /// Shown in help instead of `defaultValue` when that depends on the machine ("all cores").
    var defaultDescription: String?

    /// A flag: present or absent, takes no value.
    static func flag(_ name: String, help: String) -> Option {
        Option(name: name, kind: .flag, valueName: "", help: help)
    }

    /// An option that takes a value; given several times, every value is kept.
    static func value(_ name: String, valueName: String, help: String, default defaultValue: String? = nil,
                      defaultDescription: String? = nil) -> Option {
        Option(name: name, kind: .value, valueName: valueName, help: help, defaultValue: defaultValue,
               defaultDescription: defaultDescription)
    }

    /// `--name`, as typed.
    var spelling: String { "--" + name }
}
