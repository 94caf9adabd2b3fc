import Engine
import Bench
import Foundation
import Report
import Search
import Store

extension NightlySuite.Part: ArgumentValue {}

/// `autotune bench nightly`: run the nightly suite, keep it in the history, and compare every
/// metric with the recent runs on this machine; exit 1 on a regression.
struct BenchNightlyCommand: Command {
    static let configuration = CommandConfiguration(
        name: "nightly",
        abstract: "Run the nightly benchmark suite, record it in the history and flag regressions against recent runs (exit 1 on one).",
        options: [
            .json,
            .value("only", valueName: "LIST", help: "Comma-separated parts: " + NightlySuite.Part.allCases.map(\.rawValue).joined(separator: ", ") + ".",
                   default: NightlySuite.Part.allCases.map(\.rawValue).joined(separator: ",")),
            .flag("quick", help: "The short version (about 30 s on 2 cores), compared only with quick runs."),
            .value("db", valueName: "PATH", help: "SQLite file keeping the benchmark history.", default: StudyStore.defaultPath),
            .value("window", valueName: "K", help: "Compare with the last K complete runs of the same selection on this host.", default: "5"),
            .value("threshold", valueName: "PCT", help: "Smallest change, in percent of the baseline, that counts.", default: "5"),
            .value("mads", valueName: "Z", help: "A change must also exceed Z noise deviations (1.4826 × MAD of the window).", default: "3"),
            .value("min-history", valueName: "N", help: "Give verdicts once a metric has N earlier runs in the window.", default: "3"),
            .value("compare", valueName: "REV", help: "Compare with the latest complete run of git commit REV (a prefix) instead of the window."),
            .value("out", valueName: "DIR", help: "Where the nightly page (index.html) and the trend plots go.",
                   defaultDescription: "nightly/ beside the store: results/nightly"),
            .threads, .dataDirectory, .quiet,
        ])

    var json: Bool
    var parts: [NightlySuite.Part]
    var quick: Bool
    var database: String
    var rule: RegressionRule
    var compareRevision: String?
    var outDirectory: String?
    var threads: Int
    var dataDirectory: String?
    var quiet: Bool

    init(_ values: ParsedValues) throws {
        json = values.flag("json")
        parts = try values.uniqueList("only")
        quick = values.flag("quick")
        database = try values.value("db")
        let window: Int = try values.value("window")
        let threshold: Double = try values.value("threshold")
        let mads: Double = try values.value("mads")
        try requireAtLeast(1, window, for: "--window")
        guard threshold.isFinite, threshold >= 0 else {
            throw CLIError.invalidValue(name: "--threshold", value: "\(threshold)", reason: "must be a percentage ≥ 0")
        }
        guard mads.isFinite, mads >= 0 else { throw CLIError.invalidValue(name: "--mads", value: "\(mads)", reason: "must be ≥ 0") }
        let minimumHistory: Int = try values.value("min-history")
        try requireAtLeast(1, minimumHistory, for: "--min-history")
        rule = RegressionRule(window: window, relative: threshold / 100, mads: mads, minimumHistory: min(minimumHistory, window))
        compareRevision = try values.optionalValue("compare")
        outDirectory = try values.optionalValue("out")
        threads = try values.value("threads")
        dataDirectory = try values.optionalValue("data-dir")
        quiet = values.flag("quiet")
    }

    func validate() throws {
        guard !parts.isEmpty else {
            throw CLIError.invalidValue(name: "--only", value: "", reason: "name at least one of " + NightlySuite.Part.allCases.map(\.rawValue).joined(separator: ", "))
        }
        try requireAtLeast(1, threads, for: "--threads")
        if let outDirectory { try requireWritableOutput(outDirectory, for: "--out") }
        if compareRevision?.isEmpty == true {
            throw CLIError.invalidValue(name: "--compare", value: "", reason: "give a git commit (or a prefix of one)")
        }
    }

    /// The selection a run is compared within: quick and full runs, or different parts, measure different things.
    var suiteName: String {
        "nightly" + (quick ? " --quick" : "") + (parts == NightlySuite.Part.allCases ? "" : " --only " + parts.map(\.rawValue).joined(separator: ","))
    }

    func run() throws -> Int32 {
        let progress = Output.progress(quiet: quiet || json)
        let storage = try SQLiteStorage(path: database, createDirectory: database == StudyStore.defaultPath)
        let host = HostInfo.current(threads: threads)
        let hostJSON = String(decoding: (try? JSONEncoder().encode(host)) ?? Data(), as: UTF8.self)
        let run = try storage.beginRun(BenchRunRecord(suite: suiteName, commit: Self.gitCommit(), hostFingerprint: host.fingerprint,
                                                      host: hostJSON, toolchain: Self.toolchain))
        var suite = NightlySuite(quick: quick, threads: threads, dataDirectory: dataDirectory,
                                 scratch: FileManager.default.temporaryDirectory.appendingPathComponent("autotune-nightly"))
        suite.executable = BenchStorageCommand.executable
        if !quiet { suite.notify = { FileHandle.standardError.write(Data("\($0)\n".utf8)) } }
        var records: [BenchRecord] = []
        for part in parts {
            progress?("nightly: \(part.rawValue)")
            do {
                let partRecords = try suite.run(part, progress: progress)
                try storage.recordResults(partRecords.map(Self.result), run: run.id)
                records += partRecords
            } catch {
                try? storage.finishRun(run.id, state: .failed)
                throw CLIError.runtime("nightly part '\(part.rawValue)' failed: \(error) (run \(run.id) kept as FAILED with the parts before it)")
            }
        }
        try storage.finishRun(run.id, state: .complete)

        let (baselineRuns, rule) = try baseline(storage, current: run, host: host)
        let history = try baselineRuns.map { try storage.benchResults(run: $0.id).map(Self.record) }
        let comparisons = MetricComparison.compare(records, history: history, rule: rule)
        let regressions = comparisons.filter { $0.verdict == .regression }
        let page = try writePage(storage, run: run, host: host, baselineRuns: baselineRuns, comparisons: comparisons)
        if !quiet { FileHandle.standardError.write(Data("nightly page: \(page)\n".utf8)) }
        if json {
            try Output.printJSON(NightlyReport(run: run.id, suite: suiteName, commit: run.commit, host: host,
                                               baselineRuns: baselineRuns.map(\.id), comparisons: comparisons))
        } else {
            print(Self.table(comparisons))
            let against = baselineRuns.isEmpty ? "no earlier complete run of '\(suiteName)' on this host"
                : "\(baselineRuns.count) earlier run\(baselineRuns.count == 1 ? "" : "s") (\(baselineRuns.map { "#\($0.id)" }.joined(separator: ", ")))"
            print("\nrun #\(run.id) against \(against): \(regressions.count) regression\(regressions.count == 1 ? "" : "s"), "
                  + "\(comparisons.filter { $0.verdict == .improvement }.count) improved")
        }
        return regressions.isEmpty ? 0 : 1
    }

    /// The runs to compare with, and the rule: the last `window` complete runs of this selection
    /// on this host; or, with `--compare REV`, that commit's latest complete run of it (one run:
    /// only the relative threshold can apply).
    private func baseline(_ storage: SQLiteStorage, current: BenchRunRecord, host: HostInfo) throws -> ([BenchRunRecord], RegressionRule) {
        let complete = try storage.benchRuns(hostFingerprint: compareRevision == nil ? host.fingerprint : nil, state: .complete, limit: nil)
            .filter { $0.id != current.id && $0.suite == suiteName }
        guard let revision = compareRevision else { return (Array(complete.prefix(rule.window)), rule) }
        guard let match = complete.first(where: { !$0.commit.isEmpty && $0.commit.hasPrefix(revision) }) else {
            let known = Array(Set(complete.map(\.commit).filter { !$0.isEmpty })).sorted()
            throw CLIError.badInput("no complete '\(suiteName)' run of commit '\(revision)' in \(database)"
                                    + (known.isEmpty ? "" : " (commits: \(known.prefix(10).joined(separator: ", ")))"))
        }
        var single = rule
        single.window = 1
        single.minimumHistory = 1
        return ([match], single)
    }

    /// The trend plots (one SVG per suite part, the last 60 complete runs of this selection on
    /// this host and this run) and the page holding them with the summary. Returns the page's path.
    private func writePage(_ storage: SQLiteStorage, run: BenchRunRecord, host: HostInfo, baselineRuns: [BenchRunRecord],
                           comparisons: [MetricComparison]) throws -> String {
        let directory = outDirectory ?? StudyStore.sqlite(path: database).folder("nightly")
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ReportError("\(directory): cannot create the nightly folder (\(error.localizedDescription))", kind: .tool)
        }
        let past = try storage.benchRuns(hostFingerprint: host.fingerprint, state: .complete, limit: nil)
            .filter { $0.suite == suiteName }.prefix(60).reversed()
        var series: [String: [(run: Int64, value: Double)]] = [:]
        for r in past {
            for result in try storage.benchResults(run: r.id) { series["\(result.suite)/\(result.name)", default: []].append((r.id, result.value)) }
        }
        var plots: [(name: String, svg: String)] = []
        var note: String?
        do {
            let gnuplot = try Gnuplot.locate()
            var suites: [String] = []
            for c in comparisons where !suites.contains(c.suite) { suites.append(c.suite) }
            for suite in suites {
                let metrics = comparisons.filter { $0.suite == suite }.map { c in
                    TrendPlot.Metric(name: c.name, unit: c.unit, better: c.better.rawValue,
                                     runs: series["\(c.suite)/\(c.name)"] ?? [(run.id, c.now)], regression: c.verdict == .regression)
                }
                let stem = (directory as NSString).appendingPathComponent("trend_\(suite)")
                try gnuplot.run(TrendPlot.script(title: "\(suite), \(suiteName), \(host.cpu) (\(host.cores) cores)", metrics: metrics,
                                                 format: .svg, output: stem + ".svg"), scriptPath: stem + ".gp")
                plots.append((suite, (try? String(contentsOfFile: stem + ".svg", encoding: .utf8)) ?? ""))
            }
        } catch let e as ReportError {
            note = "No trend plots: \(e.message)."
        }
        let rows = Self.summaryRows(comparisons, shout: false)
        let facts = [("run", "#\(run.id), \(suiteName)"), ("commit", run.commit.isEmpty ? "unknown" : run.commit),
                     ("host", host.fingerprint), ("toolchain", run.toolchain),
                     ("baseline", baselineRuns.isEmpty ? "none yet" : baselineRuns.map { "#\($0.id)" }.joined(separator: ", ")),
                     ("rule", "median of the last \(rule.window) runs; a change counts beyond \(JSONValue.format(100 * rule.relative))% and \(JSONValue.format(rule.mads)) × 1.4826 MAD")]
        let regressions = Set(comparisons.indices.filter { comparisons[$0].verdict == .regression })
        let page = NightlyPage(title: "autotune nightly, run #\(run.id)", facts: facts, header: ["metric", "now", "baseline (runs)", "change", "verdict"],
                               rows: rows, regressions: regressions, plots: plots, plotNote: note)
        let path = (directory as NSString).appendingPathComponent("index.html")
        do {
            try page.html.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw ReportError("\(path): cannot write the nightly page (\(error.localizedDescription))", kind: .tool)
        }
        return path
    }

    static func result(_ r: BenchRecord) -> BenchResultRecord {
        BenchResultRecord(suite: r.suite, name: r.name, value: r.value, unit: r.unit, better: r.better.rawValue)
    }

    static func record(_ r: BenchResultRecord) -> BenchRecord {
        BenchRecord(suite: r.suite, name: r.name, value: r.value, unit: r.unit, better: r.better == "higher" ? .higher : .lower)
    }

    /// metric, now, baseline, change, verdict.
    static func table(_ rows: [MetricComparison]) -> String {
        alignedTable(["metric", "now", "baseline", "change", "verdict"], summaryRows(rows, shout: true))
    }

    /// One row per metric: its value with unit, the baseline with the number of runs behind it,
    /// the change in percent and the verdict (in capitals for a regression when `shout`).
    static func summaryRows(_ rows: [MetricComparison], shout: Bool) -> [[String]] {
        rows.map { c in
            ["\(c.suite).\(c.name)", humanNumber(c.now) + (c.unit.isEmpty ? "" : " " + c.unit),
             c.baseline.map { humanNumber($0) + " (\(c.history))" } ?? "-",
             c.change.map { String(format: "%+.1f%%", 100 * $0) } ?? "-",
             shout && c.verdict == .regression ? "REGRESSION" : c.verdict.rawValue]
        }
    }

    /// The commit of the working tree the command runs in, or "" outside a git checkout.
    static func gitCommit() -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "rev-parse", "HEAD"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return "" }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return process.terminationStatus == 0 ? text.trimmingCharacters(in: .whitespacesAndNewlines) : ""
    }

    /// The compiler this binary was built with.
    static var toolchain: String {
        #if compiler(>=6.4)
        return "Swift 6.4 or later"
        #elseif compiler(>=6.3)
        return "Swift 6.3"
        #elseif compiler(>=6.2)
        return "Swift 6.2"
        #else
        return "Swift 6.1 or earlier"
        #endif
    }
}

/// `bench nightly --json`.
struct NightlyReport: Encodable {
    var run: Int64
    var suite: String
    var commit: String
    var host: HostInfo
    var baselineRuns: [Int64]
    var comparisons: [MetricComparison]
}
