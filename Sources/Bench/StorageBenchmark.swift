import Foundation
import Search
import Store

/// `autotune bench storage`: what a trial costs in the store itself — ask, tell and store with an
/// objective that costs nothing — on SQLite and on PostgreSQL with 1, 4 and 16 workers, beside
/// Optuna's RDB storage on the same PostgreSQL server, and whether a PostgreSQL study stays as
/// fast at its 100,000th trial as at its first.
///
/// Every worker is a process of its own with its own connection, running the same `StudyRunner`
/// loop as `autotune worker` (claim, evaluate, finish, read the others' results) on a two-variable
/// ZDT1 through random search. The workers open the study, then wait at a start line; the clock
/// runs from the first worker's start to the last one's end, so process start-up and connecting
/// are not counted. Optuna's workers (`optuna_storage.py`) do the same with `study.optimize` and
/// its `RandomSampler`, each running its share of the trials.
///
/// Records, suite `storage`, for each backend (`sqlite`, `postgresql`, `optuna_postgresql`) and
/// worker count W:
/// - `<backend>.w<W>.ms_per_trial`: the time a worker spends per trial (the workers' run times
///   summed, over the trials): the per-trial overhead a worker pays;
/// - `<backend>.w<W>.trials_per_second`: the trials over the wall time: what the study gets;
/// - `postgresql.w<W>.throughput_vs_optuna`: our trials per second over Optuna's;
/// - `postgresql.flat.ms_per_trial_first_1k` and `_last_1k`: one worker's milliseconds per trial
///   over the first and the last 1,000 trials of a 100,000-trial study.
///
///     var bench = StorageBenchmark(executable: "/usr/local/bin/autotune", scratch: tmp)
///     bench.workers = [1, 4]
///     let outcome = try bench.run(server: .resolve(explicit: nil), progress: nil)
public struct StorageBenchmark {
    /// The stores compared. `optuna` is Optuna's RDB storage on the PostgreSQL server.
    public enum Backend: String, CaseIterable, Codable, Sendable {
        case sqlite, postgresql, optuna

        /// The backend's name in record names.
        public var label: String { self == .optuna ? "optuna_postgresql" : rawValue }
    }

    public var backends: [Backend] = Backend.allCases
    /// The worker counts each backend runs with.
    public var workers: [Int] = [1, 4, 16]
    /// Trials of each (backend, workers) run.
    public var trials = 2_000
    /// Trials of the one-worker PostgreSQL study whose first and last `window` trials are timed;
    /// 0 leaves that part out.
    public var flatTrials = 100_000
    public var window = 1_000
    /// The studies' seed (Optuna's samplers get seed + worker index).
    public var seed: UInt64 = 0
    /// The `autotune` executable the worker processes run.
    public var executable: String
    public var python = "python3"
    /// Optuna's side, relative to the package root.
    public var script = "Sources/Bench/peers/optuna_storage.py"
    /// Where the SQLite files go.
    public var scratch: URL

    public init(executable: String, scratch: URL) {
        self.executable = executable
        self.scratch = scratch
    }

    /// The nightly suite's short version: SQLite and PostgreSQL with 1 and 4 workers, 300 trials
    /// each, the flat check on 1,000 trials in windows of 250, without Optuna (a few seconds).
    public static func quick(executable: String, scratch: URL) -> StorageBenchmark {
        var bench = StorageBenchmark(executable: executable, scratch: scratch)
        bench.backends = [.sqlite, .postgresql]
        bench.workers = [1, 4]
        bench.trials = 300
        bench.flatTrials = 1_000
        bench.window = 250
        return bench
    }

    /// The targets, each with the value measured (nil when that part did not run) and whether it
    /// was met.
    public struct Target: Codable, Equatable, Sendable {
        public var target: String
        public var value: Double?
        public var met: Bool?
    }

    /// What a run gives: the records, the targets, and the parts skipped with the reason.
    public struct Outcome: Codable, Sendable {
        public var results: [BenchRecord]
        public var targets: [Target]
        public var skipped: [String]
        /// The PostgreSQL server used, without its password ("a throwaway cluster at ...").
        public var server: String?
    }

    /// The figures the targets name: PostgreSQL at most 2 ms per trial with one worker, its last
    /// window at most 1.25 times as slow as its first ("flat"), and at least 10 times Optuna's
    /// trials per second at 16 workers.
    public static let targetMilliseconds = 2.0, flatTolerance = 1.25, targetSpeedup = 10.0

    /// Runs the parts `backends` names. PostgreSQL and Optuna need `server.url`; without one
    /// their parts are skipped, with `server.reason` saying why.
    public func run(server: StorageBenchmarkServer, progress: ((String) -> Void)?) throws -> Outcome {
        var records: [BenchRecord] = []
        var skipped: [String] = []
        var optunaThroughput: [Int: Double] = [:]
        if backends.contains(.sqlite) {
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            for count in workers {
                let path = scratch.appendingPathComponent("storage-w\(count)-\(getpid()).sqlite").path
                defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
                progress?("storage: sqlite, \(count) worker\(count == 1 ? "" : "s"), \(trials) trials")
                let timings = try runStudy(StorageBenchmarkStore.sqlite(path: path), name: "w\(count)", trials: trials, workers: count, window: nil)
                records += Self.records(.sqlite, workers: count, timings: timings)
            }
        }
        let wantsServer = backends.contains(.postgresql) || backends.contains(.optuna)
        if wantsServer, server.url == nil {
            skipped.append("PostgreSQL and Optuna: NO POSTGRESQL SERVER, \(server.reason ?? "none named")")
        }
        if let url = server.url, wantsServer {
            if backends.contains(.optuna) {
                if let missing = optunaMissing() {
                    skipped.append("Optuna: \(missing)")
                } else {
                    let schema = try PostgreSQLScratchSchema(server: url, name: "autotune_bench_\(getpid())_optuna")
                    defer { schema.drop() }
                    progress?("storage: Optuna's RDB storage, \(workers.map(String.init).joined(separator: ", ")) workers, \(trials) trials")
                    let runs = try runPeerScript(
                        python: python, script: script,
                        arguments: ["--url", schema.url, "--trials", String(trials), "--workers", workers.map(String.init).joined(separator: ","),
                                    "--seed", String(seed)],
                        decoding: PeerRuns.self, progress: progress).runs
                    for run in runs {
                        records += Self.records(.optuna, workers: run.workers, timings: run.timings)
                        optunaThroughput[run.workers] = Self.summary(run.timings).trialsPerSecond
                    }
                }
            }
            if backends.contains(.postgresql) {
                let schema = try PostgreSQLScratchSchema(server: url, name: "autotune_bench_\(getpid())")
                defer { schema.drop() }
                for count in workers {
                    progress?("storage: postgresql, \(count) worker\(count == 1 ? "" : "s"), \(trials) trials")
                    let timings = try runStudy(.postgres(url: schema.url), name: "w\(count)", trials: trials, workers: count, window: nil)
                    records += Self.records(.postgresql, workers: count, timings: timings)
                    if let theirs = optunaThroughput[count] {
                        records.append(BenchRecord(suite: "storage", name: "postgresql.w\(count).throughput_vs_optuna",
                                                   value: Self.summary(timings).trialsPerSecond / theirs, unit: "x", better: .higher))
                    }
                }
                if flatTrials > 0 {
                    progress?("storage: postgresql, 1 worker, \(flatTrials) trials (first and last \(window) timed)")
                    let timings = try runStudy(.postgres(url: schema.url), name: "flat", trials: flatTrials, workers: 1, window: window)
                    records += try Self.flatRecords(timings, window: window)
                }
            }
        }
        return Outcome(results: records, targets: Self.targets(records, window: window, flatTrials: flatTrials),
                       skipped: skipped, server: wantsServer ? server.description : nil)
    }

    // MARK: - Arithmetic

    /// The per-trial time a worker pays and the study's throughput, from the workers' timings:
    /// Σ(end − begin) / Σ evaluated, and Σ evaluated / (max end − min begin).
    ///
    ///     summary([WorkerTiming(evaluated: 100, begin: 0, end: 200_000_000),
    ///              WorkerTiming(evaluated: 300, begin: 50_000_000, end: 250_000_000)])
    ///     // (msPerTrial: 1.0, trialsPerSecond: 1600)
    public static func summary(_ timings: [WorkerTiming]) -> (msPerTrial: Double, trialsPerSecond: Double) {
        let evaluated = timings.reduce(0) { $0 + $1.evaluated }
        guard evaluated > 0, let first = timings.map(\.begin).min(), let last = timings.map(\.end).max(), last > first else {
            return (.nan, .nan)
        }
        let busy = timings.reduce(0.0) { $0 + Double($1.end &- $1.begin) }
        return (busy / 1e6 / Double(evaluated), Double(evaluated) / (Double(last - first) / 1e9))
    }

    /// `<backend>.w<W>.ms_per_trial` and `.trials_per_second`.
    public static func records(_ backend: Backend, workers: Int, timings: [WorkerTiming]) -> [BenchRecord] {
        let (ms, perSecond) = summary(timings)
        return [BenchRecord(suite: "storage", name: "\(backend.label).w\(workers).ms_per_trial", value: ms, unit: "ms", better: .lower),
                BenchRecord(suite: "storage", name: "\(backend.label).w\(workers).trials_per_second", value: perSecond, unit: "trials/s", better: .higher)]
    }

    /// 100000 → "100,000".
    static func grouped(_ n: Int) -> String {
        var digits = String(n.magnitude), parts: [String] = []
        while digits.count > 3 { parts.insert(String(digits.suffix(3)), at: 0); digits.removeLast(3) }
        return (n < 0 ? "-" : "") + ([digits] + parts).joined(separator: ",")
    }

    /// "1k" for 1,000, else the number.
    static func windowLabel(_ window: Int) -> String { window % 1_000 == 0 ? "\(window / 1_000)k" : String(window) }

    /// `postgresql.flat.ms_per_trial_first_<window>` and `_last_<window>` from the one worker of
    /// the flat study.
    static func flatRecords(_ timings: [WorkerTiming], window: Int) throws -> [BenchRecord] {
        guard timings.count == 1, let first = timings[0].firstWindow, let last = timings[0].lastWindow else {
            throw EvaluationError("the flat study's worker timed no windows")
        }
        let label = windowLabel(window)
        return [BenchRecord(suite: "storage", name: "postgresql.flat.ms_per_trial_first_\(label)", value: first * 1000 / Double(window), unit: "ms", better: .lower),
                BenchRecord(suite: "storage", name: "postgresql.flat.ms_per_trial_last_\(label)", value: last * 1000 / Double(window), unit: "ms", better: .lower)]
    }

    /// The three targets against `records` (a target whose part did not run has no value).
    public static func targets(_ records: [BenchRecord], window: Int, flatTrials: Int) -> [Target] {
        func value(_ name: String) -> Double? { records.first { $0.name == name }?.value }
        let oneWorker = value("postgresql.w1.ms_per_trial")
        let label = windowLabel(window)
        let flat = value("postgresql.flat.ms_per_trial_first_\(label)").flatMap { first in
            value("postgresql.flat.ms_per_trial_last_\(label)").map { $0 / first }
        }
        let speedup = value("postgresql.w16.throughput_vs_optuna")
        return [
            Target(target: "PostgreSQL ≤ 2 ms per trial with 1 worker", value: oneWorker,
                   met: oneWorker.map { $0 <= targetMilliseconds }),
            Target(target: "PostgreSQL flat to \(flatTrials > 0 ? grouped(flatTrials) : "N") trials: last \(label) ≤ 1.25 × first \(label)",
                   value: flat, met: flat.map { $0 <= flatTolerance }),
            Target(target: "PostgreSQL ≥ 10 × Optuna's RDB throughput at 16 workers", value: speedup,
                   met: speedup.map { $0 >= targetSpeedup }),
        ]
    }

    /// The targets as text lines: "met", "MISSED" or "not measured", with the value.
    public static func targetLines(_ targets: [Target]) -> [String] {
        targets.map { t in
            let verdict = t.met.map { $0 ? "met" : "MISSED" } ?? "not measured"
            return "\(verdict): \(t.target)" + (t.value.map { " (measured \(String(format: "%.3g", $0)))" } ?? "")
        }
    }

    // MARK: - Runs

    /// Optuna's workers' timings, as `optuna_storage.py --json` prints them.
    struct PeerRuns: Decodable {
        struct Run: Decodable { var workers: Int; var timings: [WorkerTiming] }
        var runs: [Run]
    }

    /// Why Optuna's side cannot run (its packages are missing), or nil.
    private func optunaMissing() -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-c", "import optuna, sqlalchemy, psycopg"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return "cannot start \(python)" }
        process.waitUntilExit()
        return process.terminationStatus == 0 ? nil : "optuna, sqlalchemy or psycopg missing for \(python) (make bench-peers installs them)"
    }

    /// Creates study `name` with `trials` trials in `store` and runs it with `workers` processes.
    private func runStudy(_ store: StorageBenchmarkStore, name: String, trials: Int, workers: Int, window: Int?) throws -> [WorkerTiming] {
        let storage: StudyStorage
        switch store {
        case .sqlite(let path): storage = try SQLiteStorage(path: path)
        case .postgres(let url): storage = try PostgreSQLStorage(url: url)
        }
        let spec = try SpaceFile.parse(Data(Self.space(seed: seed).utf8), file: "storage benchmark").applying(.init(trials: trials))
        _ = try Study.create(spec, named: name, in: storage, location: store.description)
        let timings = try StorageBenchmarkWorkers.run(executable: executable, store: store, study: name, count: workers, window: window)
        let evaluated = timings.reduce(0) { $0 + $1.evaluated }
        guard evaluated == trials else {
            throw EvaluationError("storage benchmark: the workers of study '\(name)' evaluated \(evaluated) of \(trials) trials")
        }
        return timings
    }

    /// The trivial objective: a two-variable ZDT1 through random search.
    static func space(seed: UInt64) -> String {
        """
        {"name": "storage", "evaluator": {"benchmark": {"problem": "zdt1", "variables": 2}}, "strategy": "random", "seed": \(seed)}
        """
    }
}
