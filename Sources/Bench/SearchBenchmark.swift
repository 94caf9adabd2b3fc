import Engine
import Foundation
import Search

/// `autotune bench search`, quality part: how close each strategy gets to the true Pareto front of
/// the ZDT and DTLZ test problems on a fixed budget, beside pymoo's and Optuna's NSGA-II.
///
/// Each run asks and tells `evaluations` trials in a sequential loop on the problem's variables in
/// [0, 1]; its score is the hypervolume (reference 1.1 in every objective) of the non-dominated set
/// of all evaluated points — what a study's front would be. A record holds the median over seeds
/// 0..<seeds: `<problem>.<strategy>.hypervolume` and the median wall time `<problem>.<strategy>.seconds`.
///
///     let records = try searchQualityRecords(evaluations: 2000, seeds: 3)
///     // zdt1.nsga2.hypervolume, zdt1.nsga2.seconds, zdt1.smsemoa.hypervolume, ...
///
/// True-front hypervolumes for this reference, for comparison: ZDT1 1.21 − 1/3 = 0.8767,
/// ZDT2 1.21 − 2/3 = 0.5433, DTLZ2 1.1³ − π/6 = 0.8074.
public enum SearchQuality {
    /// The suite's problems: ZDT1–3 (Zitzler, Deb & Thiele 2000) and 3-objective DTLZ2 (Deb, Thiele,
    /// Laumanns & Zitzler 2002).
    public static let problems = ["zdt1", "zdt2", "zdt3", "dtlz2"]
    /// The strategies it scores.
    public static let strategies = ["nsga2", "smsemoa", "evolution", "random"]
    /// Where the peers' script lives, relative to the package root.
    public static let peersScript = "Sources/Bench/peers/search_peers.py"

    /// The problem with its usual size: 30 variables for ZDT1–3, 10 for ZDT4 and ZDT6, and for
    /// DTLZ with M = 3 objectives M − 1 + k with k = 5 (DTLZ1), 20 (DTLZ7) or 10 (the others).
    public static func problem(_ name: String) throws -> BenchmarkProblem {
        let variables: Int
        switch name {
        case "zdt4", "zdt6": variables = 10
        case "dtlz1": variables = 7
        case "dtlz7": variables = 22
        case let n where n.hasPrefix("dtlz"): variables = 12
        default: variables = 30
        }
        return try BenchmarkProblem(name: name, variables: variables)
    }

    /// The objective vectors of every point `strategy` evaluates on `problem`, in trial order.
    public static func run(_ problem: BenchmarkProblem, strategy: StrategySpec, evaluations: Int, seed: UInt64) throws -> [[Double]] {
        let strategy = try StrategyFactory.make(strategy, space: .unitCube(problem.variables), objectives: problem.objectives, seed: seed)
        var points: [[Double]] = []
        points.reserveCapacity(evaluations)
        for n in 0..<evaluations {
            let c = try strategy.ask(number: n)
            let f = problem.evaluate(unit: c.values)
            points.append(f)
            strategy.tell(TrialResult(number: n, configuration: c, outcome: .complete, objectives: f))
        }
        return points
    }

    /// The hypervolume of the true Pareto front for reference 1.1, where it has a closed form:
    /// ZDT1 1.21 − 1/3, ZDT2 1.21 − 2/3, DTLZ2 1.1³ − π/6 (the volume of the unit sphere's octant).
    public static func trueFrontHypervolume(_ problem: String) -> Double? {
        switch problem {
        case "zdt1": return 1.21 - 1.0 / 3
        case "zdt2": return 1.21 - 2.0 / 3
        case "dtlz2": return 1.331 - Double.pi / 6
        default: return nil
        }
    }

    /// The hypervolume (as `score`) of the points evaluated so far at `checkpoints` evenly spaced
    /// evaluation counts, the last being all of them.
    public static func history(_ points: [[Double]], objectives: Int, checkpoints: Int) -> [(evaluations: Int, hypervolume: Double)] {
        hypervolumeHistory(points, reference: [Double](repeating: 1.1, count: objectives), checkpoints: checkpoints)
            .map { ($0.count, $0.hypervolume) }
    }

    /// Hypervolume of `points` against 1.1 in every objective, over their non-dominated set.
    public static func score(_ points: [[Double]], objectives: Int) -> Double {
        var front: [[Double]] = []
        for p in points { ParetoFront.insert(p, into: &front) }
        return hypervolume(front, reference: [Double](repeating: 1.1, count: objectives))
    }
}

/// How to run the pymoo and Optuna peers: the script and the Python interpreter.
public struct SearchPeers: Sendable {
    public var script: String
    public var python: String
    public init(script: String = SearchQuality.peersScript, python: String = "python3") {
        self.script = script; self.python = python
    }
}

/// The peers' script could not run or printed something other than its records.
public struct SearchPeersError: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { "search peers: \(reason)" }
}

/// The quality records of `autotune bench search`: for each problem and strategy the median
/// hypervolume and wall time over `seeds` runs, then (when `peers` is given) the peers' records
/// from `search_peers.py` run on the same problems and budget (suite `peers`:
/// `<problem>.pymoo_nsga2.hypervolume`, `…hypervolume_final_population`, `<problem>.optuna_nsga2.hypervolume`).
/// - Parameters:
///   - problems: names of `BenchmarkProblem.Kind` (sizes from `SearchQuality.problem`).
///   - strategies: names `StrategyFactory` knows, run with their default options.
///   - progress: receives a line per run.
/// - Throws: `ConfigError` for an unknown problem or strategy or a budget below 1;
///   `SearchPeersError` when the peers fail.
public func searchQualityRecords(problems: [String] = SearchQuality.problems, evaluations: Int = 10_000, seeds: Int = 5,
                                 strategies: [String] = SearchQuality.strategies, peers: SearchPeers? = nil,
                                 progress: ((String) -> Void)? = nil,
                                 curve: ((_ problem: String, _ strategy: String, _ history: [(evaluations: Int, hypervolume: Double)]) -> Void)? = nil)
    throws -> [BenchRecord] {
    guard evaluations >= 1 else { throw ConfigError(keyPath: "evaluations", reason: "must be ≥ 1, got \(evaluations)") }
    guard seeds >= 1 else { throw ConfigError(keyPath: "seeds", reason: "must be ≥ 1, got \(seeds)") }
    var records: [BenchRecord] = []
    for name in problems {
        let problem = try SearchQuality.problem(name)
        for strategy in strategies {
            var scores: [Double] = [], times: [Double] = []
            var histories: [[(evaluations: Int, hypervolume: Double)]] = []
            for seed in 0..<seeds {
                let start = Date()
                let points = try SearchQuality.run(problem, strategy: StrategySpec(name: strategy), evaluations: evaluations, seed: UInt64(seed))
                times.append(Date().timeIntervalSince(start))
                scores.append(SearchQuality.score(points, objectives: problem.objectives))
                if curve != nil { histories.append(SearchQuality.history(points, objectives: problem.objectives, checkpoints: 50)) }
                progress?("\(name) \(strategy) seed \(seed): hypervolume \(formatValue(scores.last ?? 0)), \(formatValue(times.last ?? 0)) s")
            }
            if let curve, let first = histories.first {
                // The median over seeds at each checkpoint (every run has the same checkpoints).
                curve(name, strategy, first.indices.map { i in (first[i].evaluations, median(histories.map { $0[i].hypervolume })) })
            }
            records.append(BenchRecord(suite: "search", name: "\(name).\(strategy).hypervolume", value: median(scores), unit: "", better: .higher))
            records.append(BenchRecord(suite: "search", name: "\(name).\(strategy).seconds", value: median(times), unit: "s", better: .lower))
        }
    }
    if let peers {
        let supported = problems.filter { ["zdt1", "zdt2", "zdt3", "dtlz2"].contains($0) }
        if !supported.isEmpty {
            records += try runSearchPeers(peers, problems: supported, evaluations: evaluations, seeds: seeds, progress: progress)
        }
    }
    return records
}

/// The middle value (the mean of the two middle ones for an even count).
func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    guard !s.isEmpty else { return .nan }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Run `search_peers.py --json` and decode its records; its stderr lines go to `progress`.
func runSearchPeers(_ peers: SearchPeers, problems: [String], evaluations: Int, seeds: Int,
                    progress: ((String) -> Void)?) throws -> [BenchRecord] {
    try runPeerScript(python: peers.python, script: peers.script,
                      arguments: ["--evaluations", String(evaluations), "--seeds", String(seeds), "--only", problems.joined(separator: ",")],
                      progress: progress)
}

/// Run a peer script with `--json` and decode its records (`{"results": [...]}`); its stderr
/// lines go to `progress` as they come.
func runPeerScript(python: String, script: String, arguments: [String], progress: ((String) -> Void)?) throws -> [BenchRecord] {
    struct Report: Decodable { var results: [BenchRecord] }
    return try runPeerScript(python: python, script: script, arguments: arguments, decoding: Report.self, progress: progress).results
}

/// Run a peer script with `--json` and decode the one JSON document it prints as `T`; its stderr
/// lines go to `progress` as they come.
func runPeerScript<T: Decodable>(python: String, script: String, arguments: [String], decoding: T.Type,
                                 progress: ((String) -> Void)?) throws -> T {
    guard FileManager.default.fileExists(atPath: script) else {
        throw SearchPeersError(reason: "\(script) not found (run from the package root)")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [python, script, "--json"] + arguments
    let output = Pipe(), errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    let lines = ForwardedLines(progress)
    errors.fileHandleForReading.readabilityHandler = { lines.add($0.availableData) }
    do { try process.run() } catch { throw SearchPeersError(reason: "cannot start \(python): \(error)") }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    errors.fileHandleForReading.readabilityHandler = nil
    lines.add(errors.fileHandleForReading.readDataToEndOfFile())   // what is left, and the end
    lines.add(Data())
    guard process.terminationStatus == 0 else {
        throw SearchPeersError(reason: "\(script) exited with status \(process.terminationStatus): \(lines.tail.joined(separator: " | "))")
    }
    do { return try JSONDecoder().decode(T.self, from: data) } catch {
        throw SearchPeersError(reason: "\(script) printed no records: \(error)")
    }
}

/// Lines a child process writes to stderr, passed on to `progress` as they come (from the pipe's
/// reading queue) and the last few kept for an error message.
private final class ForwardedLines: @unchecked Sendable {
    private let lock = NSLock()
    private let progress: ((String) -> Void)?
    private var last: [String] = []
    private var partial = ""

    init(_ progress: ((String) -> Void)?) { self.progress = progress }

    func add(_ data: Data) {
        lock.lock(); defer { lock.unlock() }
        var lines = (partial + String(decoding: data, as: UTF8.self)).split(separator: "\n", omittingEmptySubsequences: false)
        partial = data.isEmpty ? "" : String(lines.removeLast())      // empty data: end of file
        for line in lines where !line.isEmpty {
            progress?(String(line))
            last = Array((last + [String(line)]).suffix(5))
        }
    }

    var tail: [String] { lock.lock(); defer { lock.unlock() }; return last }
}
