import Bench
import Foundation

/// `autotune bench SUITE`: the benchmark suites. Each prints one record per result.
struct BenchCommand: Command {
    static let configuration = CommandConfiguration(
        name: "bench",
        abstract: "Run a benchmark suite and print one record per result.",
        subcommands: [BenchEngineCommand.self, BenchSearchCommand.self, BenchCompressionCommand.self, BenchCostModelCommand.self, BenchStorageCommand.self, BenchNightlyCommand.self])

    init(_ values: ParsedValues) throws {}
}

/// The models the engine benchmark trains.
enum EngineBenchModel: String, CaseIterable, ArgumentValue {
    case mlp, cnn
}

/// `autotune bench engine`: time the engine on Fashion-MNIST against the measured sgemm peak.
struct BenchEngineCommand: Command {
    static let configuration = CommandConfiguration(
        name: "engine",
        abstract: "Benchmark the training engine on Fashion-MNIST (mlp and cnn) against a measured sgemm peak.",
        options: [
            .json,
            .value("epochs", valueName: "N", help: "Epochs to train each model.", default: "5"),
            .threads,
            .dataDirectory,
            .value("only", valueName: "mlp,cnn", help: "Comma-separated models to benchmark.",
                   default: "mlp,cnn"),
            .quiet,
        ])

    var json: Bool
    /// At least 1.
    var epochs: Int
    /// At least 1.
    var threads: Int
    var dataDirectory: String?
    /// The models to run, in the order given, without repeats; never empty.
    var models: [EngineBenchModel]
    var quiet: Bool

    init(_ values: ParsedValues) throws {
        json = values.flag("json")
        epochs = try values.value("epochs")
        threads = try values.value("threads")
        dataDirectory = try values.optionalValue("data-dir")
        models = try values.uniqueList("only")
        guard !models.isEmpty else {
            throw CLIError.invalidValue(name: "--only", value: values.options["only"]?.last ?? "",
                                        reason: "name at least one of mlp, cnn")
        }
        quiet = values.flag("quiet")
    }

    func validate() throws {
        try requireAtLeast(1, epochs, for: "--epochs")
        try requireAtLeast(1, threads, for: "--threads")
    }

    func run() throws -> Int32 {
        var bench = EngineBenchmark()
        bench.epochs = epochs
        bench.threads = threads
        bench.dataDirectory = dataDirectory
        bench.models = models.map(\.rawValue)
        let report = try bench.run(progress: Output.progress(quiet: quiet || json))
        if json {
            try Output.printJSON(report)
        } else {
            print(report.table)
        }
        return 0
    }
}
