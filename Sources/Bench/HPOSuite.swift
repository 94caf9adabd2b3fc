import Engine
import Foundation
import Search

/// `autotune bench search --suite hpo`: the strategies on public, real problems — COCO's `bbob`
/// and `bbob-biobj` functions and HPOBench's tabular MLP benchmarks — evaluated through one
/// persistent command (`peers/hpo_suite.py serve`), beside Optuna's TPE, random and NSGA-II
/// samplers run by the same script on the same problems and seeds.
///
/// Each run asks and tells `budget` trials in sequence; its score after the first c trials, for
/// each checkpoint c, is the best value found (one objective) or the hypervolume of everything
/// evaluated against the problem's reference (two). Budgets are checkpoints of one run: every
/// strategy but `auto` proposes the same first c trials whatever the budget; `auto` is run once
/// per budget, told that budget.
///
/// Records, per budget B (suite `hpo`):
/// - `<problem>.<strategy>.b<B>`: the median over seeds of the regret (the best value minus the
///   table's optimum for HPOBench, minus the best value any run found for bbob; lower is better)
///   or of the hypervolume (bbob-biobj; higher is better);
/// - `<family>.<strategy>.b<B>.mean_rank`: the strategy's rank by median among all strategies on
///   each problem (1 the best, ties averaged), averaged over the problems of the family (`bbob`,
///   `biobj`, `hpobench`) and over all of them (`all`);
/// - `<problem>.rl_vs_random.b<B>.p`: the two-sided Mann–Whitney p of RL's scores against random
///   search's over the seeds;
/// - `targets.*`: the share of problems on which RL's median beats random search's, and
///   significantly; the best autotune strategy's mean rank and Optuna TPE's; `auto`'s mean rank
///   over that of the best autotune strategy, per family.
public enum HPOSuite {
    /// The script that describes, serves and runs Optuna on the problems, from the package root.
    public static let script = "Sources/Bench/peers/hpo_suite.py"
    /// The autotune strategies it runs by default (see `spec(_:)` for options written in a name).
    public static let strategies = ["auto", "tpe", "rl", "rl:algorithm=reinforce", "evolution", "nsga2", "random"]
    public static let budgets = [50, 100, 300]

    /// A problem as the script describes it.
    public struct Problem: Decodable, Sendable {
        public var name: String
        public var variables: Int
        public var objectives: Int
        public var lower: [Double]
        public var upper: [Double]
        /// Levels of each ordinal variable (HPOBench), given to the problem as indices.
        public var levels: [Int]?
        /// The hypervolume reference (two objectives).
        public var reference: [Double]?
        /// The best value there is, where it is known.
        public var optimum: Double?

        /// `bbob`, `biobj` or `hpobench`.
        public var family: String { String(name.prefix { $0 != "_" }) }
    }

    /// One run's scores at each budget.
    public struct Run: Codable, Sendable {
        public var problem: String
        public var strategy: String
        public var seed: Int
        public var scores: [Double]
        public var seconds: Double
    }

    /// The spec a strategy of this suite stands for: a name, then options as `:key=value`
    /// (`rl:algorithm=reinforce:learning_rate=0.03`); a value is a number when it reads as one.
    public static func spec(_ text: String) -> StrategySpec {
        let parts = text.split(separator: ":").map(String.init)
        let options = parts.dropFirst().map { part -> JSONValue.Member in
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            let value = pair.count > 1 ? pair[1] : ""
            return .init(pair[0], Double(value).map(JSONValue.number) ?? .string(value))
        }
        return StrategySpec(name: parts.first ?? "", options: .object(options))
    }

    /// The search space of a problem: reals on its bounds, or level indices.
    static func space(_ problem: Problem) -> SearchSpace {
        let dimensions = (0..<problem.variables).map { i -> Search.Dimension in
            if let levels = problem.levels { return Search.Dimension(name: "x\(i)", domain: .integer(lower: 0, upper: levels[i] - 1)) }
            return Search.Dimension(name: "x\(i)", domain: .real(.init(.uniform(low: problem.lower[i], high: problem.upper[i]))))
        }
        return SearchSpace(dimensions: dimensions, template: .object(dimensions.indices.map {
            SpaceNode.Field(dimensions[$0].name, .decision(index: $0, options: [], merged: []))
        }))
    }

    /// The score of the first c evaluated points for each checkpoint c.
    static func scores(_ points: [[Double]], problem: Problem, checkpoints: [Int]) -> [Double] {
        checkpoints.map { c in
            let first = points.prefix(c)
            if problem.objectives == 1 { return first.map { $0[0] }.min() ?? .infinity }
            var front: [[Double]] = []
            for p in first { ParetoFront.insert(p, into: &front) }
            return hypervolume(front, reference: problem.reference ?? [])
        }
    }

    /// Ask and tell `budget` trials of `strategy` on `problem` through `evaluator`.
    static func run(_ problem: Problem, strategy: String, seed: Int, budget: Int, checkpoints: [Int],
                    evaluator: CommandEvaluator) throws -> Run {
        let space = space(problem)
        let start = Date()
        let strategyObject = try StrategyFactory.make(spec(strategy), space: space, objectives: problem.objectives,
                                                      seed: UInt64(seed), budget: budget)
        var points: [[Double]] = []
        for n in 0..<budget {
            let c = try strategyObject.ask(number: n)
            let candidate = JSONValue.object([.init("problem", .string(problem.name)), .init("x", .array(c.values.map { .number($0) }))])
            let metrics = try evaluator.evaluate(candidate, parameters: []) { _, _ in true }.metrics
            let f = try (0..<problem.objectives).map { m -> Double in
                guard let v = metrics["f\(m)"] else { throw SearchPeersError(reason: "\(problem.name): no f\(m) in the answer") }
                return v
            }
            points.append(f)
            strategyObject.tell(TrialResult(number: n, configuration: c, outcome: .complete, objectives: f))
        }
        return Run(problem: problem.name, strategy: strategy, seed: seed,
                   scores: scores(points, problem: problem, checkpoints: checkpoints), seconds: Date().timeIntervalSince(start))
    }

    /// The problems the script describes for `arguments` (its problem options).
    public static func describe(python: String = "python3", arguments: [String]) throws -> [Problem] {
        struct Description: Decodable { var problems: [Problem] }
        let data = try runScript(python: python, arguments: ["describe"] + arguments)
        do { return try JSONDecoder().decode(Description.self, from: data).problems } catch {
            throw SearchPeersError(reason: "\(script) describe printed no problems: \(error)")
        }
    }

    /// The runs of a file: `{"runs": [...]}`, as `hpo_suite.py peers` prints and `save` writes.
    struct Runs: Codable { var runs: [Run] }

    /// Optuna's runs from the script (`peers`).
    public static func peerRuns(python: String = "python3", arguments: [String], budgets: [Int], seeds: Int,
                                progress: ((String) -> Void)?) throws -> [Run] {
        let data = try runScript(python: python, arguments: ["peers", "--budget", String(budgets.max() ?? 0), "--seeds", String(seeds),
                                                             "--checkpoints", budgets.map(String.init).joined(separator: ",")] + arguments,
                                 progress: progress)
        do { return try JSONDecoder().decode(Runs.self, from: data).runs } catch {
            throw SearchPeersError(reason: "the Optuna runs could not be read: \(error)")
        }
    }

    /// Runs saved earlier (by `save`, or printed by `hpo_suite.py peers`).
    public static func load(_ file: String) throws -> [Run] {
        guard let data = FileManager.default.contents(atPath: file) else { throw SearchPeersError(reason: "cannot read \(file)") }
        do { return try JSONDecoder().decode(Runs.self, from: data).runs } catch {
            throw SearchPeersError(reason: "\(file) holds no runs: \(error)")
        }
    }

    /// Write `runs` to `file`, to score them later with other runs.
    public static func save(_ runs: [Run], to file: String) throws {
        try JSONEncoder().encode(Runs(runs: runs)).write(to: URL(fileURLWithPath: file))
    }

    /// Run every strategy on every problem for `seeds` seeds, checkpoints at `budgets`.
    public static func runs(problems: [Problem], strategies: [String], budgets: [Int], seeds: Int, python: String = "python3",
                            progress: ((String) -> Void)?) throws -> [Run] {
        let evaluator = CommandEvaluator(CommandSpec(argv: [python, script, "serve"], persistent: true))
        defer { evaluator.close() }
        let budgets = budgets.sorted()
        var runs: [Run] = []
        for problem in problems {
            for strategy in strategies {
                for seed in 0..<seeds {
                    if strategy == "auto" {
                        // Told the budget, auto may choose differently for each.
                        var scores: [Double] = [], seconds = 0.0
                        for b in budgets {
                            let run = try run(problem, strategy: strategy, seed: seed, budget: b, checkpoints: [b], evaluator: evaluator)
                            scores += run.scores; seconds += run.seconds
                        }
                        runs.append(Run(problem: problem.name, strategy: strategy, seed: seed, scores: scores, seconds: seconds))
                    } else {
                        runs.append(try run(problem, strategy: strategy, seed: seed, budget: budgets.last ?? 0,
                                            checkpoints: budgets, evaluator: evaluator))
                    }
                }
                let mine = runs.suffix(seeds)
                progress?("\(problem.name) \(strategy): median \(formatValue(median(mine.map { $0.scores.last ?? .nan }))), "
                          + "\(formatValue(mine.map(\.seconds).reduce(0, +))) s")
            }
        }
        return runs
    }

    /// The records described on `HPOSuite`, from all runs (autotune's and Optuna's).
    public static func records(problems: [Problem], runs: [Run], budgets: [Int]) -> [BenchRecord] {
        let budgets = budgets.sorted()
        let strategies = runs.reduce(into: [String]()) { if !$0.contains($1.strategy) { $0.append($1.strategy) } }
        let autotuneNames = strategies.filter { !$0.hasPrefix("optuna_") }
        var records: [BenchRecord] = []
        func record(_ name: String, _ value: Double, better: BenchRecord.Better) {
            records.append(BenchRecord(suite: "hpo", name: name, value: value, unit: "", better: better))
        }
        var ranks: [String: [String: [Double]]] = [:]     // family → strategy → ranks (per budget key below)
        var rlWins: [Int: (wins: Int, significant: Int, problems: Int)] = [:]
        for (b, budget) in budgets.enumerated() {
            for problem in problems {
                let mine = runs.filter { $0.problem == problem.name && $0.scores.count > b }
                guard !mine.isEmpty else { continue }
                let higher = problem.objectives > 1
                // Regret against the optimum, or the best any run found.
                let floor = problem.optimum ?? runs.filter { $0.problem == problem.name }.flatMap(\.scores).min() ?? 0
                var medians: [String: Double] = [:]
                for s in strategies {
                    let scores = mine.filter { $0.strategy == s }.map { higher ? $0.scores[b] : $0.scores[b] - floor }
                    guard !scores.isEmpty else { continue }
                    medians[s] = median(scores)
                    record("\(problem.name).\(s).b\(budget)", medians[s]!, better: higher ? .higher : .lower)
                }
                let present = strategies.filter { medians[$0] != nil }
                let r = averageRanks(present.map { medians[$0]! }, higherIsBetter: higher)
                for (s, rank) in zip(present, r) {
                    ranks["\(problem.family)|\(budget)", default: [:]][s, default: []].append(rank)
                    ranks["all|\(budget)", default: [:]][s, default: []].append(rank)
                }
                let rl = mine.filter { $0.strategy == "rl" }.map { $0.scores[b] }
                let random = mine.filter { $0.strategy == "random" }.map { $0.scores[b] }
                if !rl.isEmpty, !random.isEmpty {
                    let p = mannWhitneyP(rl, random)
                    record("\(problem.name).rl_vs_random.b\(budget).p", p, better: .lower)
                    let better = higher ? median(rl) > median(random) : median(rl) < median(random)
                    var tally = rlWins[budget] ?? (0, 0, 0)
                    tally.problems += 1
                    if better { tally.wins += 1; if p < 0.05 { tally.significant += 1 } }
                    rlWins[budget] = tally
                }
            }
            for family in ["bbob", "biobj", "hpobench", "all"] {
                guard let byStrategy = ranks["\(family)|\(budget)"] else { continue }
                var means: [String: Double] = [:]
                for s in strategies { if let r = byStrategy[s] { means[s] = r.reduce(0, +) / Double(r.count) } }
                for s in strategies { if let m = means[s] { record("\(family).\(s).b\(budget).mean_rank", m, better: .lower) } }
                let best = autotuneNames.filter { $0 != "auto" }.compactMap { means[$0] }.min()
                if let best { record("targets.\(family).best_autotune_mean_rank.b\(budget)", best, better: .lower) }
                if let tpe = means["optuna_tpe"] { record("targets.\(family).optuna_tpe_mean_rank.b\(budget)", tpe, better: .lower) }
                if let best, let auto = means["auto"] { record("targets.\(family).auto_over_best_rank.b\(budget)", auto / best, better: .lower) }
            }
            if let t = rlWins[budget], t.problems > 0 {
                record("targets.rl_beats_random_share.b\(budget)", Double(t.wins) / Double(t.problems), better: .higher)
                record("targets.rl_beats_random_significantly_share.b\(budget)", Double(t.significant) / Double(t.problems), better: .higher)
            }
        }
        return records
    }

    /// Run the script and return its stdout; stderr lines go to `progress`.
    private static func runScript(python: String, arguments: [String], progress: ((String) -> Void)? = nil) throws -> Data {
        guard FileManager.default.fileExists(atPath: script) else {
            throw SearchPeersError(reason: "\(script) not found (run from the package root)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, script] + arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        // The last stderr line says why the script failed (a missing package, most often).
        let lastError = LockedLine()
        errors.fileHandleForReading.readabilityHandler = { handle in
            let text = String(decoding: handle.availableData, as: UTF8.self)
            for line in text.split(separator: "\n") where !line.isEmpty {
                lastError.set(String(line))
                progress?(String(line))
            }
        }
        do { try process.run() } catch { throw SearchPeersError(reason: "cannot start \(python): \(error)") }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        errors.fileHandleForReading.readabilityHandler = nil
        guard process.terminationStatus == 0 else {
            var reason = "\(script) \(arguments.first ?? "") exited with status \(process.terminationStatus)"
            if let line = lastError.get() { reason += ": \(line)" }
            if lastError.get()?.contains("ModuleNotFoundError") == true { reason += " (make bench-peers installs what the suite needs)" }
            throw SearchPeersError(reason: reason)
        }
        return data
    }
}

/// One line shared between the pipe's reading queue and the caller.
private final class LockedLine: @unchecked Sendable {
    private let lock = NSLock()
    private var line: String?
    func set(_ value: String) { lock.lock(); line = value; lock.unlock() }
    func get() -> String? { lock.lock(); defer { lock.unlock() }; return line }
}
