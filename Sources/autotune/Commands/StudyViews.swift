import Engine
import Foundation
import Search
import Store

/// Text tables with aligned columns.
func alignedTable(_ header: [String], _ rows: [[String]]) -> String {
    let widths = header.indices.map { c in ([header[c]] + rows.map { c < $0.count ? $0[c] : "" }).map(\.count).max() ?? 0 }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { c, cell in c == cells.count - 1 ? cell : cell.padding(toLength: widths[c], withPad: " ", startingAt: 0) }
            .joined(separator: "  ")
    }
    return ([line(header)] + rows.map(line)).joined(separator: "\n")
}

/// `name=value` pairs of a trial's parameters, as one cell: reals to 4 significant digits, and
/// cut after `limit` characters (`--full` lifts it; the JSON output has every value in full).
func parameterCell(_ t: TrialRecord, limit: Int = 100) -> String {
    let short = t.parameters.map { shortName($0.name) }
    var cell = ""
    for (i, p) in t.parameters.enumerated() {
        let value = p.json.contains(where: { $0 == "." || $0 == "e" }) && Double(p.json) != nil
            ? String(format: "%.4g", Double(p.json)!) : p.json
        let name = short.filter { $0 == short[i] }.count > 1 ? withoutSection(p.name) : short[i]
        let item = "\(name)=\(value)"
        if !cell.isEmpty, cell.count + item.count + 1 > limit {
            return cell + " … (\(t.parameters.count - i) more)"
        }
        cell += (cell.isEmpty ? "" : " ") + item
    }
    return cell
}

/// `training.optimizer.lr` → `lr`, for a table.
private func shortName(_ path: String) -> String {
    path.split(separator: ".").last.map(String.init) ?? path
}

/// `architecture.stages[1].channels` → `stages[1].channels`, where last keys repeat.
private func withoutSection(_ path: String) -> String {
    guard let dot = path.firstIndex(of: ".") else { return path }
    return String(path[path.index(after: dot)...])
}

/// One trial as JSON: number, state, metrics, parameters, times, message, notes (a STALE trial's
/// late reports). A parameter's value is what the candidate holds at its key path (a choice among
/// distributions gives the value drawn, not the distribution's text).
func trialJSON(_ t: TrialRecord, space: SearchSpace) -> JSONValue {
    var m: [(String, JSONValue)] = [("trial", .number(Double(t.number))), ("state", .string(t.state.rawValue))]
    m.append(("metrics", .object(t.metrics.sorted { $0.key < $1.key }.map { ($0.key, .number($0.value)) })))
    let candidate = (try? space.configuration(from: t.parameters)).map(space.materialize)
    m.append(("parameters", .object(t.parameters.map { p in
        let stored = (try? JSONValue(parsing: p.json)) ?? .string(p.json)
        return JSONValue.Member(p.name, candidate?.value(atKeyPath: p.name) ?? stored)
    })))
    if t.violation > 0 { m.append(("violation", .number(t.violation))) }
    m.append(("started", .string(isoTime(t.started))))
    if let f = t.finished { m.append(("finished", .string(isoTime(f)))); m.append(("seconds", .number(f.timeIntervalSince(t.started)))) }
    m.append(("worker", .string(t.worker)))
    if let r = t.retryOf { m.append(("retry_of", .number(Double(r)))) }
    if let msg = t.message { m.append(("message", .string(msg))) }
    if !t.notes.isEmpty {
        m.append(("notes", .array(t.notes.map { note in
            var n: [(String, JSONValue)] = [("time", .string(isoTime(note.time))), ("kind", .string(note.kind.rawValue))]
            if let step = note.step { n.append(("step", .number(Double(step)))) }
            if let state = note.state { n.append(("state", .string(state.rawValue))) }
            n.append(("metrics", .object(note.metrics.sorted { $0.key < $1.key }.map { ($0.key, .number($0.value)) })))
            if let message = note.message { n.append(("message", .string(message))) }
            return .object(n)
        })))
    }
    if !t.intermediate.isEmpty {
        m.append(("intermediate", .array(t.intermediate.keys.sorted().map { step in
            .object([("step", .number(Double(step)))] + t.intermediate[step]!.sorted { $0.key < $1.key }.map { ($0.key, .number($0.value)) })
        })))
    }
    return .object(m)
}

func isoTime(_ d: Date) -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return f.string(from: d)
}

/// A study's state and front: what `autotune search` prints at the end and `autotune front` shows.
struct StudySummaryView {
    let study: StudyRecord
    let spec: StudySpec
    let trials: [TrialRecord]
    let front: [TrialRecord]
    let hypervolume: Double?
    let database: String
    /// Every parameter in the table, none cut (`--full`).
    var fullParameters = false

    init(study: Study) throws {
        self.study = study.record; self.spec = study.spec; self.database = study.location
        trials = try study.trials()
        front = study.objectives.front(trials)
        let all = trials
        hypervolume = study.record.referencePoint.map { study.objectives.hypervolume(all, reference: $0) }
    }

    var counts: [(TrialState, Int)] {
        TrialState.allCases.map { s in (s, trials.filter { $0.state == s }.count) }.filter { $0.1 > 0 }
    }

    /// Said on stderr when trials have finished but none dominates the reference point: the
    /// hypervolume is then 0 whatever the search found.
    var referenceWarning: String? {
        guard spec.objectives.count > 1, let ref = study.referencePoint, let hv = hypervolume, hv == 0,
              front.contains(where: { $0.violation <= 0 }) else { return nil }
        return "no trial dominates the reference point (\(ref.map(humanNumber).joined(separator: ", "))), so the hypervolume is 0; "
            + "set reference_point in the space file"
    }

    /// The failed trials' commonest reason and how many gave it (ties: the earliest).
    var commonestFailure: (reason: String, count: Int)? {
        var tally: [String: Int] = [:], order: [String] = []
        for t in trials where t.state == .fail {
            let reason = t.message ?? "no reason given"
            if tally[reason] == nil { order.append(reason) }
            tally[reason, default: 0] += 1
        }
        return order.max { tally[$0]! < tally[$1]! || (tally[$0]! == tally[$1]! && order.firstIndex(of: $0)! > order.firstIndex(of: $1)!) }
            .map { ($0, tally[$0]!) }
    }

    var text: String {
        var lines = ["study '\(study.name)' in \(database): \(trials.count) trials ("
                     + counts.map { "\($0.1) \($0.0.rawValue.lowercased())" }.joined(separator: ", ") + ")"]
        if let (reason, count) = commonestFailure {
            let failed = trials.filter { $0.state == .fail }.count
            lines.append("\(failed) failed; the commonest reason (\(count) of them): \(reason)")
        }
        if let hv = hypervolume, let ref = study.referencePoint, spec.objectives.count > 1 {
            lines.append("hypervolume \(humanNumber(hv)) (reference point \(ref.map(humanNumber).joined(separator: ", ")))")
        }
        guard !front.isEmpty else { lines.append("no trial has finished with every objective yet"); return lines.joined(separator: "\n") }
        let infeasible = front.first.map { $0.violation > 0 } ?? false
        lines.append(spec.objectives.count > 1 ? "Pareto front (\(front.count) trial\(front.count == 1 ? "" : "s")\(infeasible ? ", none feasible yet" : "")):"
                                               : "best trial\(infeasible ? " (none feasible yet)" : ""):")
        let header = ["trial"] + spec.objectives.map { "\($0.metric) (\($0.direction == .minimize ? "min" : "max"))" } + ["parameters"]
        let rows = front.map { t in
            [String(t.number)] + spec.objectives.map { t.metrics[$0.metric].map(humanNumber) ?? "-" }
                + [parameterCell(t, limit: fullParameters ? .max : 100)]
        }
        lines.append(alignedTable(header, rows))
        return lines.joined(separator: "\n")
    }

    var json: JSONValue {
        var m: [(String, JSONValue)] = [("study", .string(study.name)), ("db", .string(database)), ("strategy", .string(study.strategy))]
        m.append(("objectives", .array(spec.objectives.map { .object([("metric", .string($0.metric)), ("direction", .string($0.direction.rawValue))]) })))
        m.append(("trials", .object([("total", .number(Double(trials.count)))] + counts.map { ($0.0.rawValue.lowercased(), .number(Double($0.1))) })))
        if let ref = study.referencePoint { m.append(("reference_point", .array(ref.map { .number($0) }))) }
        if let hv = hypervolume { m.append(("hypervolume", .number(hv))) }
        if let (reason, count) = commonestFailure {
            m.append(("commonest_failure", .object([("reason", .string(reason)), ("count", .number(Double(count)))])))
        }
        m.append(("front", .array(front.map { trialJSON($0, space: spec.space) })))
        return .object(m)
    }
}
