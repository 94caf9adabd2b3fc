import Bench
import Foundation

/// The techniques `autotune bench compression` can run.
enum CompressionTechnique: String, CaseIterable, ArgumentValue {
    case fp16, bf16, int8_ptq, int4_qat, prune90, channels50, lowrank90, share4, distill
}

/// `autotune bench compression`: every compression technique against the FP32 baseline.
struct BenchCompressionCommand: Command {
    static let configuration = CommandConfiguration(
        name: "compression",
        abstract: "Benchmark precision and compression techniques on the engine benchmark's mlp and cnn against their FP32 baselines.",
        options: [
            .json,
            .value("epochs", valueName: "N", help: "Epochs to train each baseline (fine-tunes add their own).", default: "5"),
            .threads,
            .dataDirectory,
            .value("models", valueName: "mlp,cnn", help: "Comma-separated models to compress.", default: "mlp,cnn"),
            .value("only", valueName: "TECHNIQUES",
                   help: "Comma-separated techniques: " + CompressionTechnique.allCases.map(\.rawValue).joined(separator: ", ") + ".",
                   default: CompressionTechnique.allCases.map(\.rawValue).joined(separator: ","), defaultDescription: "all of them"),
            .value("distill-seeds", valueName: "N", help: "Seeds of the distillation comparison (the median is recorded).", default: "3"),
            .flag("peers", help: "Also run ONNX Runtime on the exported FP32 model and on its own int8 quantization (Python; see Sources/Bench/peers)."),
            .quiet,
        ])

    var json: Bool
    var epochs: Int
    var threads: Int
    var dataDirectory: String?
    var models: [EngineBenchModel]
    var techniques: [CompressionTechnique]
    var distillSeeds: Int
    var peers: Bool
    var quiet: Bool

    init(_ values: ParsedValues) throws {
        json = values.flag("json")
        epochs = try values.value("epochs")
        threads = try values.value("threads")
        dataDirectory = try values.optionalValue("data-dir")
        models = try values.uniqueList("models")
        techniques = try values.uniqueList("only")
        distillSeeds = try values.value("distill-seeds")
        peers = values.flag("peers")
        quiet = values.flag("quiet")
        guard !models.isEmpty else {
            throw CLIError.invalidValue(name: "--models", value: values.options["models"]?.last ?? "", reason: "name at least one of mlp, cnn")
        }
        guard !techniques.isEmpty else {
            throw CLIError.invalidValue(name: "--only", value: values.options["only"]?.last ?? "", reason: "name at least one technique")
        }
    }

    func validate() throws {
        try requireAtLeast(1, epochs, for: "--epochs")
        try requireAtLeast(1, threads, for: "--threads")
        try requireAtLeast(1, distillSeeds, for: "--distill-seeds")
    }

    func run() throws -> Int32 {
        var bench = CompressionBenchmark()
        bench.epochs = epochs
        bench.threads = threads
        bench.dataDirectory = dataDirectory
        bench.models = models.map(\.rawValue)
        bench.techniques = techniques.map(\.rawValue)
        bench.distillSeeds = distillSeeds
        bench.peers = peers ? CompressionPeers() : nil
        let report = try bench.run(progress: Output.progress(quiet: quiet || json))
        if json { try Output.printJSON(report) } else { print(report.table) }
        return 0
    }
}
