import Bench
import Foundation
import Store

extension StorageBenchmark.Backend: ArgumentValue {}

/// `autotune bench storage`: the per-trial cost of the stores (SQLite, PostgreSQL, and Optuna's
/// RDB storage on the same server) with 1, 4 and 16 worker processes, and whether a 100,000-trial
/// PostgreSQL study stays flat; the targets printed as met or missed. With `--worker STUDY` it is
/// one of the worker processes the benchmark starts.
struct BenchStorageCommand: Command {
    static let configuration = CommandConfiguration(
        name: "storage",
        abstract: "Benchmark the stores: ms per trial and trials/s on SQLite and PostgreSQL with 1, 4 and 16 workers, beside Optuna's RDB storage.",
        options: [
            .json,
            .value("storage", valueName: "URL", help: "The PostgreSQL server to use: postgresql://user[:password]@host[:port]/database (a schema of its own is made there and dropped).",
                   defaultDescription: "$AUTOTUNE_STORAGE, else $AUTOTUNE_TEST_POSTGRES, else a throwaway cluster"),
            .value("only", valueName: "LIST", help: "Comma-separated stores: sqlite, postgresql, optuna (Optuna's RDB storage on the same server).",
                   default: "sqlite,postgresql,optuna"),
            .value("workers", valueName: "LIST", help: "Comma-separated worker counts; each worker is a process with its own connection.",
                   default: "1,4,16"),
            .value("trials", valueName: "N", help: "Trials of each store and worker count.", default: "2000"),
            .value("flat-trials", valueName: "N", help: "Trials of the one-worker PostgreSQL study timed over its first and last --window trials (0: leave out).",
                   default: "100000"),
            .value("window", valueName: "N", help: "Trials in each timed window of the flat study.", default: "1000"),
            .value("seed", valueName: "N", help: "Seed of the studies' random strategy (Optuna's samplers get seed + worker index).", default: "0"),
            .flag("quick", help: "The nightly suite's short version: sqlite and postgresql, 1 and 4 workers, 300 trials, flat over 1,000 in windows of 250."),
            .value("worker", valueName: "STUDY", help: "Run one benchmark worker on STUDY (what the benchmark starts; its store from --db or $AUTOTUNE_STORAGE)."),
            .value("db", valueName: "PATH", help: "With --worker: the SQLite file holding STUDY."),
            .quiet,
        ])

    var json: Bool
    var quiet: Bool
    var server: String?
    var bench: StorageBenchmark
    var worker: String?
    var workerDatabase: String?
    /// With --worker: the window to time, when the benchmark asked for one.
    var workerWindow: Int?

    init(_ values: ParsedValues) throws {
        json = values.flag("json")
        quiet = values.flag("quiet")
        server = try values.optionalValue("storage")
        worker = try values.optionalValue("worker")
        workerDatabase = try values.optionalValue("db")
        let quick = values.flag("quick")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("autotune-bench-storage")
        bench = quick ? .quick(executable: Self.executable, scratch: scratch) : StorageBenchmark(executable: Self.executable, scratch: scratch)
        // Under --quick, what is given explicitly still wins.
        if !quick || values.options["only"] != nil { bench.backends = try values.uniqueList("only") }
        if !quick || values.options["workers"] != nil { bench.workers = try values.uniqueList("workers") }
        if !quick || values.options["trials"] != nil { bench.trials = try values.value("trials") }
        if !quick || values.options["flat-trials"] != nil { bench.flatTrials = try values.value("flat-trials") }
        if !quick || values.options["window"] != nil { bench.window = try values.value("window") }
        bench.seed = try values.value("seed")
        workerWindow = values.options["window"] != nil ? bench.window : nil
    }

    func validate() throws {
        guard !bench.backends.isEmpty else {
            throw CLIError.invalidValue(name: "--only", value: "", reason: "name at least one of sqlite, postgresql, optuna")
        }
        guard !bench.workers.isEmpty else { throw CLIError.invalidValue(name: "--workers", value: "", reason: "name at least one worker count") }
        for count in bench.workers { try requireAtLeast(1, count, for: "--workers") }
        try requireAtLeast(1, bench.trials, for: "--trials")
        try requireAtLeast(1, bench.window, for: "--window")
        if bench.flatTrials != 0 && bench.flatTrials < 2 * bench.window {
            throw CLIError.invalidValue(name: "--flat-trials", value: String(bench.flatTrials),
                                        reason: "give 0 to leave the flat study out, or at least 2 × --window (\(2 * bench.window)) so its first and last windows do not overlap")
        }
        if let server, !PostgreSQLStorage.isURL(server) {
            throw CLIError.invalidValue(name: "--storage", value: PostgreSQLStorage.redacted(server),
                                        reason: "expected postgresql://user[:password]@host[:port]/database (or postgres://)")
        }
        if workerDatabase != nil, worker == nil {
            throw CLIError.invalidValue(name: "--db", value: workerDatabase!, reason: "only a --worker reads a store from --db")
        }
    }

    func run() throws -> Int32 {
        if let worker { return try serve(worker) }
        let progress = Output.progress(quiet: quiet || json)
        let wantsServer = bench.backends.contains(.postgresql) || bench.backends.contains(.optuna)
        let resolved = wantsServer ? try StorageBenchmarkServer.resolve(explicit: server) : .none("not asked for")
        defer { resolved.stop() }
        if wantsServer { progress?("storage: PostgreSQL server: \(resolved)") }
        let outcome = try bench.run(server: resolved, progress: progress)
        if json {
            try Output.printJSON(StorageReport(results: outcome.results, host: HostInfo.current(threads: 1), targets: outcome.targets,
                                               skipped: outcome.skipped, server: outcome.server))
            return 0
        }
        if let server = outcome.server { print("PostgreSQL server: \(server)") }
        print(BenchReport(results: outcome.results, host: HostInfo.current(threads: 1)).table)
        for line in outcome.skipped { print("skipped: \(line)") }
        for line in StorageBenchmark.targetLines(outcome.targets) { print(line) }
        return 0
    }

    /// One worker process: its store from --db, else $AUTOTUNE_STORAGE.
    private func serve(_ study: String) throws -> Int32 {
        let storage: StudyStorage, location: String
        if let path = workerDatabase {
            guard FileManager.default.fileExists(atPath: path) else { throw CLIError.badInput("\(path): no such store") }
            (storage, location) = (try SQLiteStorage(path: path), path)
        } else if let url = server ?? ProcessInfo.processInfo.environment[StudyStore.environmentVariable], !url.isEmpty {
            (storage, location) = (try PostgreSQLStorage(url: url), PostgreSQLStorage.redacted(url))
        } else {
            throw CLIError.badInput("--worker \(study): name its store with --db PATH or \(StudyStore.environmentVariable)")
        }
        try StorageBenchmarkWorkers.serve(study: study, in: storage, location: location, window: workerWindow)
        return 0
    }

    /// This program, which the benchmark starts again as its workers.
    static var executable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}

/// `bench storage --json`: the records and host as every suite prints them, with the targets and
/// the parts skipped.
struct StorageReport: Encodable {
    var results: [BenchRecord]
    var host: HostInfo
    var targets: [StorageBenchmark.Target]
    var skipped: [String]
    var server: String?
}
