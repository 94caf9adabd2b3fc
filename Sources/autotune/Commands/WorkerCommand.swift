import Foundation
import Search
import Store

/// `autotune worker STUDY --storage URL`: one more worker for a study that exists, from any
/// machine that reaches its store — it rebuilds the strategy and evaluator from the space stored
/// with the study and runs trials until the budget is spent.
struct WorkerCommand: Command {
    static let configuration = CommandConfiguration(
        name: "worker",
        abstract: "Join an existing study as one more worker and run its trials until the budget is spent.",
        arguments: [.study],
        options: Option.store + [
            .value("budget", valueName: "N", help: "Trials the study runs in total (a larger budget extends it).",
                   defaultDescription: "the study's"),
            .value("threads", valueName: "N", help: "Threads each training run may use.", defaultDescription: "all cores"),
            .dataDirectory,
            .value("heartbeat", valueName: "SECONDS",
                   help: "Heartbeat interval; a trial silent for 6 intervals (its lease) goes STALE and is re-run.", default: "5"),
            .quiet,
        ])

    var target: StudyArgument
    var budget: Int?
    var threads: Int?
    var dataDirectory: String?
    var heartbeat: Double
    var quiet: Bool

    init(_ values: ParsedValues) throws {
        target = try StudyArgument(values)
        budget = try values.optionalValue("budget")
        threads = try values.optionalValue("threads")
        dataDirectory = try values.optionalValue("data-dir")
        heartbeat = try values.value("heartbeat")
        quiet = values.flag("quiet")
    }

    func validate() throws {
        if let budget { try requireAtLeast(1, budget, for: "--budget") }
        if let threads { try requireAtLeast(1, threads, for: "--threads") }
        if !(heartbeat > 0) {
            throw CLIError.invalidValue(name: "--heartbeat", value: String(heartbeat), reason: "must be positive")
        }
    }

    func run() throws -> Int32 {
        let opened = try target.open()
        let spec = try opened.spec.applying(.init(trials: budget))
        let (study, _) = try Study.create(spec, named: opened.name, in: opened.storage, location: opened.location, joining: true)
        let deadline = study.spec.budget.seconds.map { Date().addingTimeInterval($0) }
        let runner = try StudyRunner(study: study, threads: threads, dataDirectory: dataDirectory,
                                     options: .init(heartbeatInterval: heartbeat, deadline: deadline, sharedCurves: true))
        let interruption = Interruption { signal in
            runner.abandonRunningTrial(reason: "interrupted by \(signal == SIGINT ? "SIGINT" : "SIGTERM")")
        }
        defer { interruption.cancel() }
        let line = ProgressLine(quiet: quiet)
        let evaluated = try runner.run(progress: { line.show($0) }, notice: { line.warn("worker \(runner.options.worker): \($0)") })
        line.finish()
        if !quiet {
            FileHandle.standardError.write(Data("worker \(runner.options.worker): \(evaluated) trials of study '\(study.name)' evaluated\n".utf8))
        }
        return 0
    }
}
