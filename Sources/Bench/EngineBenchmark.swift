import Engine
import Hardware

/// `autotune bench engine`: the engine's throughput and accuracy on full Fashion-MNIST, for the
/// two reference models, against a measured sgemm peak.
///
/// Recipe (the same in the PyTorch and JAX peer scripts): 60k train / 10k test, standardised
/// pixels, batch 128, Adam lr 1e-3, no augmentation, 5 epochs, 2 threads.
public struct EngineBenchmark {
    public var epochs = 5
    public var threads = 2
    public var dataDirectory: String?
    public var models = ["mlp", "cnn"]

    public init() {}

    /// The two reference architectures.
    public static let architectures: [String: ArchitectureSpec] = [
        "mlp": .mlp(MLPSpec(widths: [512, 512], activation: .relu)),
        "cnn": .cnn(CNNSpec(stages: [CNNStage(channels: 32, kernel: 3, pool: .max),
                                     CNNStage(channels: 64, kernel: 3, pool: .max)],
                            head: [128], activation: .relu)),
    ]

    /// The candidate the benchmark trains for `model`.
    public func candidate(_ model: String) -> Candidate? {
        guard let spec = Self.architectures[model] else { return nil }
        return Candidate(
            architecture: spec,
            training: TrainingConfig(optimizer: OptimizerConfig(.adam, learningRate: 1e-3), batchSize: 128, epochs: epochs, seed: 0, threads: threads),
            data: DataConfig(dataset: .fashionMNIST, directory: dataDirectory, validationFraction: 0, normalize: true))
    }

    /// Run the suite. `progress` receives a line per epoch.
    public func run(progress: ((String) -> Void)? = nil) throws -> BenchReport {
        var results: [BenchRecord] = []
        func add(_ name: String, _ value: Double, _ unit: String, _ better: BenchRecord.Better) {
            results.append(BenchRecord(suite: "engine", name: name, value: value, unit: unit, better: better))
        }
        progress?("measuring sgemm peak (\(threads) threads)")
        let peak = sgemmPeakGFLOPS(threads: threads)
        add("sgemm.gflops", peak, "GFLOP/s", .higher)
        for model in models {
            guard let c = candidate(model) else { continue }
            let report = try Trainer(candidate: c).run { e in
                progress?("\(model) epoch \(e.epoch)/\(epochs): loss \(formatValue(e.trainLoss)), \(formatValue(e.seconds)) s")
            }
            let seconds = report.epochs.reduce(0) { $0 + $1.seconds }
            add("\(model).epoch_seconds", report.secondsPerEpoch, "s", .lower)
            add("\(model).test_accuracy", report.testAccuracy, "fraction", .higher)
            add("\(model).gflops", seconds > 0 ? report.trainingFLOPs / seconds / 1e9 : 0, "GFLOP/s", .higher)
            add("\(model).gflops_fraction_of_peak", seconds > 0 && peak > 0 ? report.trainingFLOPs / seconds / 1e9 / peak : 0, "fraction", .higher)
            add("\(model).samples_per_second", report.samplesPerSecond, "samples/s", .higher)
            add("\(model).peak_mib", report.peakBytes / 1_048_576, "MiB", .lower)
        }
        return BenchReport(results: results, host: HostInfo.current(threads: threads))
    }
}
