import Engine

/// One long-lived process that answers candidates one at a time, for objectives so cheap that
/// starting a program per candidate would dominate.
///
/// Protocol: each candidate is written as one line of compact JSON on the process's stdin; the
/// process prints any number of lines and then one JSON object line of metrics. On the way,
/// `{"step": ..., ...}` lines are learning-curve points and other lines are logs — except that a
/// line beginning with `{` or `[` is taken as the answer, so one that is not a JSON object of
/// numbers (`[1, 2]`, `{"f1": NaN}`, a cut-off object) fails the candidate at once with the
/// reason, and the process is replaced. A minimal program:
///
///     import json, sys
///     for line in sys.stdin:
///         c = json.loads(line)
///         print(json.dumps({"loss": (c["lr"] - 0.1) ** 2}), flush=True)
///
/// The process starts on first use. A timeout or an early stop kills it (the next candidate starts
/// a new one); a process that died while idle is replaced before the candidate is sent; one that
/// dies while working on a candidate fails that candidate.
final class PersistentCommand {
    private let argv: [String]
    private let environment: [String: String]
    private let workingDirectory: String?
    private var process: ChildProcess?
    private static let answer = "persistent process's answer"

    init(argv: [String], environment: [String: String], workingDirectory: String?) {
        self.argv = argv; self.environment = environment; self.workingDirectory = workingDirectory
    }

    deinit { close() }

    /// Send one candidate and read its metrics.
    /// - Throws: `EvaluationError` when the process cannot start, dies, times out or answers with
    ///   something that is not a JSON object of numbers.
    func evaluate(_ candidate: JSONValue, timeout: Double?, report: (Int, [String: Double]) -> Bool) throws -> EvaluationResult {
        if let idle = process, idle.reap() { stop() }
        let child: ChildProcess
        if let running = process {
            child = running
        } else {
            child = try ChildProcess(argv: argv, environment: environment, workingDirectory: workingDirectory, input: .pipe)
            process = child
        }
        child.send(candidate.compactText + "\n", thenClose: false)
        let deadline = timeout.map { ChildProcess.now() + $0 }
        while true {
            switch child.nextLine(deadline: deadline) {
            case .line(let line):
                switch CommandOutputLine(line) {
                case .point(let step, let metrics):
                    if !report(step, metrics) {
                        stop()
                        return EvaluationResult(metrics: metrics, stoppedEarly: true)
                    }
                case .object(let members):
                    return EvaluationResult(metrics: try CommandOutputLine.metrics(members, source: PersistentCommand.answer))
                case .text:
                    let trimmed = line.trimmingCharacters(in: .whitespaces)
                    guard trimmed.hasPrefix("{") || trimmed.hasPrefix("[") else { continue }
                    stop()
                    _ = try CommandOutputLine.metrics(trimmed, source: PersistentCommand.answer)
                    throw EvaluationError("\(PersistentCommand.answer) is not a JSON object of numbers")
                }
            case .endOfOutput:
                let exited = child.waitForExit(deadline: ChildProcess.now() + 1)
                stop()
                if !exited { throw EvaluationError("persistent process closed its stdout without answering") }
                throw CommandEvaluator.failure(of: child, subject: "persistent process ")
                    ?? EvaluationError("persistent process exited with status 0 without answering")
            case .timedOut:
                stop()
                throw CommandEvaluator.timedOut(timeout)
            }
        }
    }

    /// End the process: close its stdin so it can finish on its own, then stop its process group.
    func close() {
        guard let child = process else { return }
        child.closeInput()
        _ = child.waitForExit(deadline: ChildProcess.now() + 1)
        stop()
    }

    private func stop() {
        process?.terminate()
        process = nil
    }
}
