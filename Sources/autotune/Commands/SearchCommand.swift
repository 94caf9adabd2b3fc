import Engine
import Foundation
import Report
import Search
import Store

/// `autotune search SPACE.json`: run (or resume) a study and print its Pareto front.
struct SearchCommand: Command {
    static let configuration = CommandConfiguration(
        name: "search",
        abstract: "Search a space: propose candidates, evaluate them, keep every trial, print the Pareto front.",
        arguments: [Argument("space", valueName: "SPACE.json", help: "The search space file (see searchspaces/).")],
        options: [
            .value("strategy", valueName: "NAME", help: "Strategy: \(StrategyFactory.names.joined(separator: ", ")).",
                   defaultDescription: "the space file's"),
            .value("budget", valueName: "N", help: "Trials to run in total (a resumed study counts those it has).",
                   defaultDescription: "the space file's"),
            .value("workers", valueName: "K", help: "Evaluate K candidates at once, in K processes sharing the store.",
                   defaultDescription: "the space file's, else 1"),
            .value("seed", valueName: "N", help: "Seed every random choice flows from.", defaultDescription: "the space file's, else 0"),
            .database, .storage, .studyName,
            .value("threads", valueName: "N", help: "Threads each training run may use.", defaultDescription: "cores / workers"),
            .dataDirectory, .quiet, .full, .json,
            .value("heartbeat", valueName: "SECONDS",
                   help: "Heartbeat interval; a trial silent for 6 intervals (its lease) goes STALE and is re-run.", default: "5"),
            .flag("worker", help: "Join an existing study as one more worker (what --workers starts)."),
            .flag("no-plots", help: "Do not draw the study's plots when the search ends."),
        ] + Option.plotScales)

    var spacePath: String
    var strategy: String?
    var budget: Int?
    var workers: Int?
    var seed: UInt64?
    var store: StudyStore
    var studyName: String?
    var threads: Int?
    var dataDirectory: String?
    var quiet: Bool
    var json: Bool
    var heartbeat: Double
    var isWorker: Bool
    var drawsPlots: Bool
    var full: Bool
    var plotScale: AxisScale

    init(_ values: ParsedValues) throws {
        spacePath = try values.argument("space")
        strategy = try values.optionalValue("strategy")
        budget = try values.optionalValue("budget")
        workers = try values.optionalValue("workers")
        seed = try values.optionalValue("seed", as: Int.self).map { UInt64(max($0, 0)) }
        if let s = try values.optionalValue("seed", as: Int.self), s < 0 {
            throw CLIError.invalidValue(name: "--seed", value: String(s), reason: "must be at least 0")
        }
        store = try StudyStore(values)
        studyName = try values.optionalValue("study")
        threads = try values.optionalValue("threads")
        dataDirectory = try values.optionalValue("data-dir")
        quiet = values.flag("quiet")
        json = values.flag("json")
        heartbeat = try values.value("heartbeat")
        isWorker = values.flag("worker")
        drawsPlots = !values.flag("no-plots")
        full = values.flag("full")
        plotScale = try AxisScale(values)
    }

    func validate() throws {
        if let budget { try requireAtLeast(1, budget, for: "--budget") }
        if let workers { try requireAtLeast(1, workers, for: "--workers") }
        if let threads { try requireAtLeast(1, threads, for: "--threads") }
        if let strategy, !StrategyFactory.names.contains(strategy) {
            throw CLIError.invalidValue(name: "--strategy", value: strategy,
                                        reason: "valid: \(StrategyFactory.names.joined(separator: ", "))",
                                        suggestion: closestMatch(to: strategy, among: StrategyFactory.names))
        }
        if !(heartbeat > 0) {
            throw CLIError.invalidValue(name: "--heartbeat", value: String(heartbeat), reason: "must be positive")
        }
        if let studyName { try StudyStore.validateName(studyName) }
    }

    func run() throws -> Int32 {
        let spec: StudySpec
        do {
            spec = try SpaceFile.load(path: spacePath).applying(.init(strategy: strategy, trials: budget, seed: seed, workers: workers))
            try CommandExport.check(spec)
        } catch let e as ConfigError {
            throw InputFileError(file: spacePath, reason: e.description)
        }
        for note in spec.notes { FileHandle.standardError.write(Data("autotune: note: \(spacePath): \(note)\n".utf8)) }
        let name = studyName ?? spec.name ?? URL(fileURLWithPath: spacePath).deletingPathExtension().lastPathComponent
        try StudyStore.validateName(name)
        // Checked before the store is opened, so bad input never leaves a store or study behind.
        try spec.checkParts()
        let (study, created) = try Study.create(spec, named: name, in: try store.open(), location: store.description, joining: isWorker,
                                                folder: store.folder(name))
        let workerCount = study.spec.workers
        let threadsPerRun = threads ?? max(1, ProcessInfo.processInfo.activeProcessorCount / workerCount)
        let deadline = study.spec.budget.seconds.map { Date().addingTimeInterval($0) }
        let runner = try StudyRunner(study: study, threads: threadsPerRun, dataDirectory: dataDirectory,
                                     options: .init(heartbeatInterval: heartbeat, deadline: deadline, sharedCurves: workerCount > 1))

        let children = isWorker ? [] : try startWorkers(count: workerCount - 1, study: name, threads: threadsPerRun)
        let interruption = Interruption { signal in
            runner.abandonRunningTrial(reason: "interrupted by \(signal == SIGINT ? "SIGINT" : "SIGTERM")")
            children.forEach { if $0.isRunning { kill($0.processIdentifier, SIGTERM) } }
            children.forEach { $0.waitUntilExit() }
        }
        defer { interruption.cancel() }
        let line = isWorker ? nil : ProgressLine(quiet: quiet || json)
        if !isWorker, !created { line?.note("resuming study '\(name)'") }
        if !isWorker, created, !quiet, !json, let auto = study.spec.autoStrategy {
            FileHandle.standardError.write(Data("strategy auto: \(auto.name) (\(auto.reason))\n".utf8))
        }
        do {
            let warnings = line ?? ProgressLine(quiet: true)
            try runner.run(progress: { line?.show($0) }, notice: { warnings.warn("worker \(runner.options.worker): \($0)") })
        } catch {
            children.forEach { $0.terminate() }
            throw error
        }
        line?.finish()
        for child in children {
            child.waitUntilExit()
            if child.terminationStatus != 0 {
                FileHandle.standardError.write(Data("autotune: warning: a worker exited with status \(child.terminationStatus)\n".utf8))
            }
        }
        guard !isWorker else { return 0 }
        // Read again: the run chose the reference point.
        let finished = try Study.open(name, in: study.storage, location: store.description)
        var summary = try StudySummaryView(study: finished)
        summary.fullParameters = full
        if json { print(summary.json.prettyText) } else { print(summary.text) }
        if let warning = summary.referenceWarning { FileHandle.standardError.write(Data("autotune: warning: \(warning)\n".utf8)) }
        if drawsPlots { drawPlots(finished) }
        return 0
    }

    /// Draw the study's plots beside the store; a study with nothing to draw yet, or a machine
    /// without gnuplot, gets a note on stderr and leaves the exit status alone.
    private func drawPlots(_ study: Study) {
        let directory = store.folder(study.name)
        do {
            _ = try StudyPlots(study: study.record, spec: study.spec, trials: try study.trials(), scale: plotScale)
                .draw(format: .png, directory: directory, gnuplot: try .locate())
            if !quiet { FileHandle.standardError.write(Data("plots: \(directory)\n".utf8)) }
        } catch {
            if !quiet { FileHandle.standardError.write(Data("autotune: note: no plots drawn: \(error)\n".utf8)) }
        }
    }

    private func startWorkers(count: Int, study: String, threads: Int) throws -> [Process] {
        guard count > 0 else { return [] }
        let (storeArguments, storeEnvironment) = store.workerArguments
        var arguments = ["search", spacePath, "--worker", "--quiet", "--study", study] + storeArguments
            + ["--threads", String(threads), "--heartbeat", String(heartbeat)]
        if let strategy { arguments += ["--strategy", strategy] }
        if let budget { arguments += ["--budget", String(budget)] }
        if let seed { arguments += ["--seed", String(seed)] }
        if let workers { arguments += ["--workers", String(workers)] }
        if let dataDirectory { arguments += ["--data-dir", dataDirectory] }
        return try (0..<count).map { _ in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/proc/self/exe")
            p.arguments = arguments
            if !storeEnvironment.isEmpty {
                p.environment = ProcessInfo.processInfo.environment.merging(storeEnvironment) { _, new in new }
            }
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            return p
        }
    }
}

/// SIGINT and SIGTERM during a search: hand the running trial back (STALE and queued to run
/// again) and stop the workers, then exit at once with 128 + the signal — so a resumed study does
/// not wait for the trial's heartbeat to go stale.
final class Interruption {
    private var sources: [DispatchSourceSignal] = []

    init(_ handler: @escaping (Int32) -> Void) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: DispatchQueue.global())
            source.setEventHandler {
                handler(sig)
                FileHandle.standardError.write(Data("\nautotune: interrupted; the running trial will be run again on resume\n".utf8))
                // _exit, not exit: the main thread may be inside OpenBLAS, training the trial, and
                // exit's library destructors free OpenBLAS's buffers under it (a crash on every
                // interrupted engine trial). The store needs no clean-up: every change is committed.
                fflush(stdout)
                _exit(128 + sig)
            }
            source.resume()
            sources.append(source)
        }
    }

    func cancel() {
        for source in sources { source.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
