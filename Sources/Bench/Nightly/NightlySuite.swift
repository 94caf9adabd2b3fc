import Foundation

/// `autotune bench nightly`: a fixed, seeded selection of every benchmark, short enough to run
/// every night (well under 20 minutes on 2 cores; `quick`, about 30 s, for CI), each part
/// giving the same records as its full benchmark.
///
/// | part | full | quick |
/// |---|---|---|
/// | engine | mlp and cnn, 2 epochs of Fashion-MNIST, sgemm peak | mlp, 1 epoch |
/// | compression | mlp: FP16, int8 PTQ, 90% pruning, low rank, from a 2-epoch baseline | mlp: int8 PTQ from a 1-epoch baseline |
/// | search | NSGA-II and SMS-EMOA on ZDT1, ZDT2, DTLZ2, 10,000 evaluations, 3 seeds | NSGA-II on ZDT1 and DTLZ2, 2,000 evaluations, 1 seed |
/// | study | evolution, REINFORCE and random on a small engine study, 16 trials, 2 seeds | 4 trials, 1 seed |
/// | costmodel | Megatron-LM Table 1, Korthikanti et al. 2022 Table 5 and the speed records (no calibration fits in either) | the same |
/// | overhead | 20,000 stored trials | 2,000 |
/// | storage | SQLite and PostgreSQL, 1, 4 and 16 workers, 1,000 trials; flat over 20,000 | 1 and 4 workers, 300 trials; flat over 1,000 |
///
/// The storage part uses the PostgreSQL server `AUTOTUNE_STORAGE` or `AUTOTUNE_TEST_POSTGRES`
/// names, else a throwaway cluster; without either its PostgreSQL records are left out (said on
/// `notify`), not failed.
///
///     let suite = NightlySuite(quick: true, threads: 2, dataDirectory: nil, scratch: tmp)
///     let records = try suite.run(.search, progress: nil)
public struct NightlySuite: Sendable {
    public enum Part: String, CaseIterable, Codable, Sendable {
        case engine, compression, search, study, costmodel, overhead, storage
    }

    public var quick: Bool
    public var threads: Int
    public var dataDirectory: String?
    /// Where the parts that need a store put their temporary files.
    public var scratch: URL
    /// The `autotune` executable the storage part starts as its workers.
    public var executable: String = CommandLine.arguments[0]
    /// Told what a part left out and why (the storage part without a PostgreSQL server), for
    /// people: shown even where progress lines are not.
    public var notify: (@Sendable (String) -> Void)?

    public init(quick: Bool, threads: Int, dataDirectory: String?, scratch: URL) {
        self.quick = quick; self.threads = threads; self.dataDirectory = dataDirectory; self.scratch = scratch
    }

    /// The records of one part.
    public func run(_ part: Part, progress: ((String) -> Void)?) throws -> [BenchRecord] {
        switch part {
        case .engine:
            var engine = EngineBenchmark()
            engine.epochs = quick ? 1 : 2
            engine.models = quick ? ["mlp"] : ["mlp", "cnn"]
            engine.threads = threads
            engine.dataDirectory = dataDirectory
            return try engine.run(progress: progress).results
        case .compression:
            var compression = CompressionBenchmark()
            compression.epochs = quick ? 1 : 2
            compression.models = ["mlp"]
            compression.techniques = quick ? ["int8_ptq"] : ["fp16", "int8_ptq", "prune90", "lowrank90"]
            compression.threads = threads
            compression.dataDirectory = dataDirectory
            return try compression.run(progress: progress).results
        case .search:
            return try searchQualityRecords(problems: quick ? ["zdt1", "dtlz2"] : ["zdt1", "zdt2", "dtlz2"],
                                            evaluations: quick ? 2_000 : 10_000, seeds: quick ? 1 : 3,
                                            strategies: quick ? ["nsga2"] : ["nsga2", "smsemoa"], progress: progress)
        case .study:
            return try EngineStudyBenchmark.records(trials: quick ? 4 : 16, seeds: quick ? 1 : 2, threads: threads,
                                                    dataDirectory: dataDirectory, directory: scratch, progress: progress)
        case .costmodel:
            var costModel = CostModelBenchmark()
            costModel.calibrate = false
            return try costModel.run(progress: progress).records
        case .overhead:
            return try SearchOverhead.records(trials: quick ? 2_000 : 20_000, directory: scratch)
        case .storage:
            var storage = StorageBenchmark.quick(executable: executable, scratch: scratch)
            if !quick {
                storage.workers = [1, 4, 16]
                storage.trials = 1_000
                storage.flatTrials = 20_000
                storage.window = 1_000
            }
            let server = try StorageBenchmarkServer.resolve(explicit: nil)
            defer { server.stop() }
            let outcome = try storage.run(server: server, progress: progress)
            for line in outcome.skipped { notify?("storage: skipped: \(line)") }
            return outcome.results
        }
    }
}

extension HostInfo {
    /// What makes two machines' timings comparable: the CPU model, its cores and the OpenBLAS build.
    public var fingerprint: String { "\(cpu) | \(cores) cores | \(openblas)" }
}
