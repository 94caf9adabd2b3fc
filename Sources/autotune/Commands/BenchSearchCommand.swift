import Bench
import Engine
import Foundation
import Report
import Search

/// The parts of `autotune bench search`.
enum SearchBenchPart: String, CaseIterable, ArgumentValue {
    case quality, overhead, study
}

/// `autotune bench search`: strategy quality on ZDT/DTLZ, per-trial overhead with SQLite, and a
/// real engine study — with pymoo and Optuna side by side under `--peers`; or, with `--suite hpo`,
/// the strategies on COCO and HPOBench problems beside Optuna (see `HPOSuite`).
struct BenchSearchCommand: Command {
    static let configuration = CommandConfiguration(
        name: "search",
        abstract: "Benchmark the search: hypervolume on ZDT/DTLZ, per-trial overhead, and strategies on an engine study.",
        options: [
            .json,
            .value("suite", valueName: "NAME", help: "'default' (the parts of --only) or 'hpo': COCO bbob, bbob-biobj and HPOBench problems beside Optuna.",
                   default: "default"),
            .value("budgets", valueName: "LIST", help: "hpo: trial budgets scored (checkpoints of one run).", default: "50,100,300"),
            .value("hpo-seeds", valueName: "N", help: "hpo: seeds per problem and strategy.", default: "10"),
            .value("hpo-strategies", valueName: "LIST", help: "hpo: autotune strategies, each a name with options as :key=value (rl:algorithm=reinforce).",
                   default: HPOSuite.strategies.joined(separator: ",")),
            .value("hpo-problems", valueName: "LIST", help: "hpo: only these problems (bbob_f01_d02, biobj_f01_d02, hpobench_car...)."),
            .value("runs", valueName: "FILES", help: "hpo: also score the runs saved in these files (--save-runs, or `hpo_suite.py peers` output) instead of running Optuna."),
            .value("save-runs", valueName: "FILE", help: "hpo: write every run scored to FILE."),
            .value("only", valueName: "quality,overhead,study", help: "Comma-separated parts to run.",
                   default: "quality,overhead,study"),
            .value("evaluations", valueName: "N", help: "Quality: evaluations per run.", default: "10000"),
            .value("seeds", valueName: "N", help: "Quality: seeds per problem and strategy (median reported).", default: "5"),
            .value("problems", valueName: "LIST", help: "Quality: comma-separated problems.",
                   default: SearchQuality.problems.joined(separator: ",")),
            .value("strategies", valueName: "LIST", help: "Quality: comma-separated strategies.",
                   default: SearchQuality.strategies.joined(separator: ",")),
            .value("trials", valueName: "N", help: "Overhead: trials of a trivial objective, stored in SQLite.", default: "100000"),
            .value("study-trials", valueName: "N", help: "Study: trials per engine study.", default: "60"),
            .value("study-seeds", valueName: "N", help: "Study: seeds per strategy (median reported).", default: "5"),
            .flag("peers", help: "Also run pymoo and Optuna on the same problems and budgets (Python; see Sources/Bench/peers)."),
            .value("plots", valueName: "DIR", help: "Quality: draw each problem's hypervolume over evaluations, a line per strategy (median over seeds), into DIR."),
            .threads, .dataDirectory, .quiet,
        ])

    var json: Bool
    var suite: String
    var budgets: [Int]
    var hpoSeeds: Int
    var hpoStrategies: [String]
    var hpoProblems: [String]
    var runFiles: [String]
    var saveRuns: String?
    var parts: [SearchBenchPart]
    var evaluations: Int
    var seeds: Int
    var problems: [String]
    var strategies: [String]
    var trials: Int
    var studyTrials: Int
    var studySeeds: Int
    var peers: Bool
    var plotDirectory: String?
    var threads: Int
    var dataDirectory: String?
    var quiet: Bool

    init(_ values: ParsedValues) throws {
        json = values.flag("json")
        suite = try values.value("suite")
        budgets = try values.uniqueList("budgets")
        hpoSeeds = try values.value("hpo-seeds")
        hpoStrategies = try values.uniqueList("hpo-strategies", as: String.self).filter { !$0.isEmpty && $0 != "none" }
        hpoProblems = try values.optionalValue("hpo-problems", as: String.self).map { $0.split(separator: ",").map(String.init) } ?? []
        runFiles = try values.optionalValue("runs", as: String.self).map { $0.split(separator: ",").map(String.init) } ?? []
        saveRuns = try values.optionalValue("save-runs")
        parts = try values.uniqueList("only")
        evaluations = try values.value("evaluations")
        seeds = try values.value("seeds")
        problems = try values.list("problems", as: String.self)
        strategies = try values.list("strategies", as: String.self)
        trials = try values.value("trials")
        studyTrials = try values.value("study-trials")
        studySeeds = try values.value("study-seeds")
        peers = values.flag("peers")
        plotDirectory = try values.optionalValue("plots")
        threads = try values.value("threads")
        dataDirectory = try values.optionalValue("data-dir")
        quiet = values.flag("quiet")
    }

    func validate() throws {
        guard ["default", "hpo"].contains(suite) else {
            throw CLIError.invalidValue(name: "--suite", value: suite, reason: "valid: default, hpo",
                                        suggestion: closestMatch(to: suite, among: ["default", "hpo"]))
        }
        for b in budgets { try requireAtLeast(1, b, for: "--budgets") }
        try requireAtLeast(1, hpoSeeds, for: "--hpo-seeds")
        for s in hpoStrategies {
            do { _ = try StrategyFactory.make(HPOSuite.spec(s), space: .unitCube(1), objectives: 1, seed: 0) } catch {
                throw CLIError.invalidValue(name: "--hpo-strategies", value: s, reason: "\(error)")
            }
        }
        guard !parts.isEmpty else {
            throw CLIError.invalidValue(name: "--only", value: "", reason: "name at least one of quality, overhead, study")
        }
        try requireAtLeast(1, evaluations, for: "--evaluations")
        try requireAtLeast(1, seeds, for: "--seeds")
        try requireAtLeast(2_000, trials, for: "--trials")
        try requireAtLeast(1, studyTrials, for: "--study-trials")
        try requireAtLeast(1, studySeeds, for: "--study-seeds")
        try requireAtLeast(1, threads, for: "--threads")
        for p in problems where (try? SearchQuality.problem(p)) == nil {
            let names = BenchmarkProblem.Kind.allCases.map(\.rawValue)
            throw CLIError.invalidValue(name: "--problems", value: p, reason: "valid: \(names.joined(separator: ", "))",
                                        suggestion: closestMatch(to: p, among: names))
        }
        for s in strategies where !StrategyFactory.names.contains(s) {
            throw CLIError.invalidValue(name: "--strategies", value: s, reason: "valid: \(StrategyFactory.names.joined(separator: ", "))",
                                        suggestion: closestMatch(to: s, among: StrategyFactory.names))
        }
    }

    func run() throws -> Int32 {
        let progress = Output.progress(quiet: quiet || json)
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("autotune-bench-search")
        var records: [BenchRecord] = []
        if suite == "hpo" {
            let arguments = hpoProblems.isEmpty ? [] : ["--only", hpoProblems.joined(separator: ",")]
            let problems = try HPOSuite.describe(arguments: arguments)
            var runs = try HPOSuite.runs(problems: problems, strategies: hpoStrategies, budgets: budgets, seeds: hpoSeeds, progress: progress)
            if peers { runs += try HPOSuite.peerRuns(arguments: arguments, budgets: budgets, seeds: hpoSeeds, progress: progress) }
            for file in runFiles { runs += try HPOSuite.load(file) }
            runs = runs.filter { run in problems.contains { $0.name == run.problem } && run.seed < hpoSeeds }
            if let saveRuns { try HPOSuite.save(runs, to: saveRuns) }
            records = HPOSuite.records(problems: problems, runs: runs, budgets: budgets)
        }
        for part in parts where suite == "default" {
            switch part {
            case .quality:
                var curves: [String: [(name: String, points: [(Double, Double)])]] = [:]
                records += try searchQualityRecords(problems: problems, evaluations: evaluations, seeds: seeds,
                                                    strategies: strategies, peers: peers ? SearchPeers() : nil, progress: progress,
                                                    curve: plotDirectory == nil ? nil : { problem, strategy, history in
                                                        curves[problem, default: []].append((strategy, history.map { (Double($0.evaluations), $0.hypervolume) }))
                                                    })
                if let plotDirectory { try drawQuality(curves, into: plotDirectory, progress: progress) }
            case .overhead:
                progress?("overhead: \(trials) trials through the study runner and SQLite")
                records += try SearchOverhead.records(trials: trials, directory: scratch)
                if peers { records += try SearchOverhead.peerRecords(trials: 1_000, progress: progress) }
            case .study:
                records += try EngineStudyBenchmark.records(trials: studyTrials, seeds: studySeeds, threads: threads,
                                                            dataDirectory: dataDirectory, directory: scratch, progress: progress)
            }
        }
        let report = BenchReport(results: records, host: HostInfo.current(threads: threads))
        if json { try Output.printJSON(report) } else { print(report.table) }
        return 0
    }

    /// One PNG per problem: the strategies' median hypervolume over evaluations, the true front's
    /// as a dashed ceiling where it is known.
    private func drawQuality(_ curves: [String: [(name: String, points: [(Double, Double)])]], into directory: String,
                             progress: ((String) -> Void)?) throws {
        let gnuplot = try Gnuplot.locate()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for problem in problems {
            guard let series = curves[problem] else { continue }
            let stem = (directory as NSString).appendingPathComponent("hypervolume_\(problem)")
            let script = ComparisonPlot.script(
                title: "\(problem): hypervolume over evaluations (median of \(seeds) seed\(seeds == 1 ? "" : "s"))",
                xLabel: "evaluations", yLabel: "hypervolume (reference 1.1 in every objective), higher is better",
                series: series, ceiling: SearchQuality.trueFrontHypervolume(problem).map { ("true front", $0) },
                format: .png, output: stem + ".png")
            try gnuplot.run(script, scriptPath: stem + ".gp")
            progress?("plot: \(stem).png")
        }
    }
}
