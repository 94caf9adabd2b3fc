import Engine
import Foundation

/// Evaluates candidates by running the user's own program: the candidate goes in as JSON on stdin
/// (or through `{name}` placeholders in the arguments), metrics come out as JSON on stdout.
///
/// The program prints whatever logs it likes; its last non-empty line of stdout must be a JSON
/// object of numbers, e.g. `{"accuracy": 0.91, "params": 120000}` (a step line as the last line
/// counts without its step; `null` is refused, since JSON has no NaN). A line such as
/// `{"step": 3, "loss": 0.42}` on the way is a learning-curve point: it is passed to `report`, and
/// when the study stops the trial early the program is stopped (SIGTERM to its process group,
/// SIGKILL 2 s later). With `persistent`, one process serves every candidate, one JSON line in and
/// one JSON object line out each (see `PersistentCommand`).
///
///     let evaluator = CommandEvaluator(CommandSpec(argv: ["python3", "train.py"], timeoutSeconds: 600))
///     let m = try evaluator.evaluate(candidate, parameters: params) { step, metrics in true }
public final class CommandEvaluator: Evaluator {
    public let spec: CommandSpec
    /// This process's environment with the spec's variables over it.
    private let environment: [String: String]
    private var persistentProcess: PersistentCommand?

    public init(_ spec: CommandSpec) {
        self.spec = spec
        environment = ProcessInfo.processInfo.environment.merging(spec.environment) { _, own in own }
    }

    deinit { close() }

    /// Stop the persistent process, if one is running (the next evaluation starts a new one).
    public func close() {
        persistentProcess?.close()
        persistentProcess = nil
    }

    public func evaluate(_ candidate: JSONValue, parameters: [(name: String, value: JSONValue)],
                         report: (Int, [String: Double]) -> Bool) throws -> EvaluationResult {
        if let timeout = spec.timeoutSeconds, !(timeout > 0) {
            throw EvaluationError("the command's timeout must be positive, got \(JSONValue.format(timeout)) s")
        }
        guard spec.persistent else { return try runOnce(candidate, parameters: parameters, report: report) }
        if let process = persistentProcess { return try process.evaluate(candidate, timeout: spec.timeoutSeconds, report: report) }
        if spec.input == .arguments {
            throw EvaluationError("a persistent command reads candidates on stdin; it cannot take input 'arguments'")
        }
        let argv = try CommandArguments.literal(spec.argv, reason: "one persistent process serves every candidate; read the candidate from stdin")
        let process = PersistentCommand(argv: argv, environment: environment, workingDirectory: spec.workingDirectory)
        persistentProcess = process
        return try process.evaluate(candidate, timeout: spec.timeoutSeconds, report: report)
    }

    /// One process for this candidate: start, feed, read until it exits.
    private func runOnce(_ candidate: JSONValue, parameters: [(name: String, value: JSONValue)],
                         report: (Int, [String: Double]) -> Bool) throws -> EvaluationResult {
        let argv = try CommandArguments.substitute(spec.argv, parameters: parameters)
        let child = try ChildProcess(argv: argv, environment: environment, workingDirectory: spec.workingDirectory,
                                     input: spec.input == .stdin ? .pipe : .devNull)
        defer { child.terminate() }
        if spec.input == .stdin { child.send(candidate.compactText + "\n", thenClose: true) }
        let deadline = spec.timeoutSeconds.map { ChildProcess.now() + $0 }
        var lastLine: String?
        reading: while true {
            switch child.nextLine(deadline: deadline) {
            case .line(let line):
                if line.utf8.contains(where: { $0 > 32 }) { lastLine = line }
                if case .point(let step, let metrics) = CommandOutputLine(line), !report(step, metrics) {
                    return EvaluationResult(metrics: metrics, stoppedEarly: true)
                }
            case .endOfOutput:
                break reading
            case .timedOut:
                throw CommandEvaluator.timedOut(spec.timeoutSeconds)
            }
        }
        guard child.waitForExit(deadline: deadline) else { throw CommandEvaluator.timedOut(spec.timeoutSeconds) }
        if let failure = CommandEvaluator.failure(of: child, subject: "") { throw failure }
        guard let lastLine else {
            throw EvaluationError("printed nothing on stdout; expected a JSON object of metrics as its last line")
        }
        return EvaluationResult(metrics: try CommandOutputLine.metrics(lastLine, source: "last line of stdout"))
    }

    static func timedOut(_ seconds: Double?) -> EvaluationError {
        EvaluationError("timed out after \(JSONValue.format(seconds ?? 0)) s")
    }

    /// Why a reaped program failed, if it did: its exit status or signal and its last stderr line.
    /// `subject` prefixes the reason ("persistent process ").
    static func failure(of child: ChildProcess, subject: String) -> EvaluationError? {
        let detail = child.lastErrorLine.map { ": \($0)" } ?? ""
        switch child.termination {
        case .exited(let status) where status != 0:
            return EvaluationError("\(subject)exited with status \(status)\(detail)")
        case .signaled(let signal):
            let name = strsignal(signal).map { String(cString: $0) } ?? "signal \(signal)"
            return EvaluationError("\(subject)was killed by signal \(signal) (\(name))\(detail)")
        case .unknown:
            return EvaluationError("\(subject)exited with an unknown status (it was reaped elsewhere)\(detail)")
        case .exited, nil:
            return nil
        }
    }
}

/// What one line of a command's stdout is under the metrics protocol.
enum CommandOutputLine: Equatable {
    /// A JSON object with an integral "step" and numbers only: a learning-curve point.
    case point(step: Int, metrics: [String: Double])
    /// Any other JSON object.
    case object([JSONValue.Member])
    /// A log line (or JSON that is not an object).
    case text

    init(_ line: String) {
        // Most lines are logs: only one whose first visible character is "{" is parsed.
        guard line.utf8.first(where: { $0 != 32 && $0 != 9 }) == UInt8(ascii: "{") else {
            self = .text
            return
        }
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("{"), let value = try? JSONValue(parsing: trimmed), let members = value.members else {
            self = .text
            return
        }
        var metrics: [String: Double] = [:]
        for member in members where member.key != "step" {
            guard let x = member.value.number else { self = .object(members); return }
            metrics[member.key] = x
        }
        if let step = value["step"]?.number, step == step.rounded(), abs(step) < 1e15 {
            self = .point(step: Int(step), metrics: metrics)
        } else {
            self = .object(members)
        }
    }

    /// The metrics a final line holds (a point's metrics without its step).
    /// - Throws: `EvaluationError` when the line is not a JSON object of numbers; `source` says
    ///   which line ("last line of stdout").
    static func metrics(_ line: String, source: String) throws -> [String: Double] {
        switch CommandOutputLine(line) {
        case .point(_, let metrics):
            guard !metrics.isEmpty else { throw EvaluationError("\(source) has a step but no metrics: '\(shortened(line))'") }
            return metrics
        case .object(let members):
            return try metrics(members, source: source)
        case .text:
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            let hint = trimmed.contains("NaN") || trimmed.contains("Infinity") ? " (NaN and Infinity are not JSON numbers)" : ""
            throw EvaluationError("\(source) is not a JSON object: '\(shortened(trimmed))'\(hint)")
        }
    }

    /// A JSON object's members as metrics.
    /// - Throws: `EvaluationError` naming the first member that is not a number.
    static func metrics(_ members: [JSONValue.Member], source: String) throws -> [String: Double] {
        guard !members.isEmpty else { throw EvaluationError("\(source) is an empty JSON object; expected metrics such as {\"loss\": 0.1}") }
        var metrics: [String: Double] = [:]
        for member in members {
            switch member.value {
            case .number(let x): metrics[member.key] = x
            case .null:
                throw EvaluationError("metric '\(member.key)' on the \(source) is null; print a number (JSON has no NaN or infinity)")
            default:
                throw EvaluationError("metric '\(member.key)' on the \(source) is \(member.value.kindName), expected a number")
            }
        }
        return metrics
    }

    /// The first 80 characters of a line, for messages.
    /// The first 80 characters of `line`, keeping the note of a line cut on reading.
    static func shortened(_ line: String) -> String {
        let note = line.range(of: " … [line cut: ", options: .backwards).map { String(line[$0.lowerBound...]) } ?? ""
        let text = note.isEmpty ? line : String(line.dropLast(note.count))
        return (text.count > 80 ? String(text.prefix(80)) + "…" : text) + note
    }
}
