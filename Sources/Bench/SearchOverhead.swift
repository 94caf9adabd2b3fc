import Engine
import Foundation
import Search
import Store

/// `autotune bench search`, overhead part: what the search machinery costs per trial when the
/// objective costs nothing — claim, ask, evaluate, finish and sync, every state change committed
/// to SQLite — measured through the same `StudyRunner` a real study uses.
///
/// Records `overhead.ms_per_trial` over the whole run, and the same over the first and the last
/// 1,000 trials (`overhead.ms_per_trial_first_1k`, `_last_1k`) so a cost that grows with the
/// study shows.
public enum SearchOverhead {
    /// A trivial objective: a two-variable ZDT1 through random search.
    static let space = """
    {"name": "overhead", "evaluator": {"benchmark": {"problem": "zdt1", "variables": 2}}, "strategy": "random", "seed": 0}
    """

    public static func records(trials: Int, directory: URL) throws -> [BenchRecord] {
        precondition(trials >= 2_000, "the first and last 1,000 trials are measured separately")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("overhead-\(ProcessInfo.processInfo.processIdentifier).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let storage = try SQLiteStorage(path: path)
        let spec = try SpaceFile.parse(Data(space.utf8), file: "overhead").applying(.init(trials: trials))
        let (study, _) = try Study.create(spec, named: "overhead", in: storage, location: path)
        let clock = TimedEvaluator(try study.makeEvaluator())
        let runner = try StudyRunner(study: study, strategy: try study.makeStrategy(), evaluator: clock)
        let start = DispatchTime.now().uptimeNanoseconds
        try runner.run()
        let end = DispatchTime.now().uptimeNanoseconds
        let t = clock.times
        guard t.count == trials else { throw EvaluationError("overhead run evaluated \(t.count) of \(trials) trials") }
        // Between consecutive evaluations lies one whole cycle: finish, sync, claim, ask.
        let seconds = [Double(t[1_000] - t[0]) / 1e9, Double(end - start) / 1e9, Double(t[trials - 1] - t[trials - 1_001]) / 1e9]
        let total = seconds[1]
        func record(_ name: String, _ ms: Double) -> BenchRecord {
            BenchRecord(suite: "search", name: name, value: ms, unit: "ms", better: .lower)
        }
        return [
            record("overhead.ms_per_trial", total * 1000 / Double(trials)),
            record("overhead.ms_per_trial_first_1k", seconds[0] * 1000 / 1000),
            record("overhead.ms_per_trial_last_1k", seconds[2] * 1000 / 1000),
        ]
    }

    /// Optuna's overhead with an SQLite store, from `optuna_overhead.py` (suite `peers`).
    public static func peerRecords(trials: Int, python: String = "python3", script: String = "Sources/Bench/peers/optuna_overhead.py",
                                   progress: ((String) -> Void)? = nil) throws -> [BenchRecord] {
        try runPeerScript(python: python, script: script, arguments: ["--trials", String(trials)], progress: progress)
    }
}

/// Notes when each evaluation starts.
final class TimedEvaluator: Evaluator {
    let inner: Evaluator
    var times: [UInt64] = []
    init(_ inner: Evaluator) { self.inner = inner }
    func evaluate(_ candidate: JSONValue, parameters: [(name: String, value: JSONValue)],
                  report: (Int, [String: Double]) -> Bool) throws -> EvaluationResult {
        times.append(DispatchTime.now().uptimeNanoseconds)
        return try inner.evaluate(candidate, parameters: parameters, report: report)
    }
}
