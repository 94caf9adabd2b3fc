/// The root command: `autotune SUBCOMMAND`, plus `--version`.
struct AutotuneCommand: Command {
    static let version = "0.1.0"

    /// Every top-level command, in the order the help lists them. Register new commands here.
    static let subcommands: [any Command.Type] = [
        SearchCommand.self,
        StudiesCommand.self,
        ShowCommand.self,
        FrontCommand.self,
        PlotCommand.self,
        ReportCommand.self,
        ImportanceCommand.self,
        ExportCommand.self,
        DashboardCommand.self,
        AskCommand.self,
        TellCommand.self,
        WorkerCommand.self,
        CopyStudyCommand.self,
        DeleteStudyCommand.self,
        EvalCommand.self,
        HardwareCommand.self,
        EstimateCommand.self,
        CalibrateCommand.self,
        BenchCommand.self,
    ]

    static let configuration = CommandConfiguration(
        name: "autotune",
        abstract: "Search architectures, training settings, precision, compression and parallelism, "
            + "training every candidate on the built-in engine.",
        usage: "SUBCOMMAND",
        options: [.flag("version", help: "Show the version.")],
        subcommands: subcommands)

    var showVersion: Bool

    init(_ values: ParsedValues) throws {
        showVersion = values.flag("version")
    }

    func run() throws -> Int32 {
        guard showVersion else {
            throw CLIError.missingSubcommand(Self.subcommands.map { $0.configuration.name })
        }
        print("autotune \(Self.version)")
        return 0
    }
}
