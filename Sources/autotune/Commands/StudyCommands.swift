import Engine
import Foundation
import Search
import Store

/// `autotune studies`: every study in the store with its trial counts.
struct StudiesCommand: Command {
    static let configuration = CommandConfiguration(
        name: "studies", abstract: "List the studies in the store with their trial counts.",
        options: [.database, .storage, .json])

    var store: StudyStore
    var json: Bool

    init(_ values: ParsedValues) throws {
        store = try StudyStore(values)
        json = values.flag("json")
    }

    func run() throws -> Int32 {
        let summaries = try store.openExisting().studies()
        if json {
            print(JSONValue.array(summaries.map { s in
                var m: [(String, JSONValue)] = [("name", .string(s.study.name)), ("strategy", .string(s.study.strategy)),
                                                ("objectives", .array(zip(s.study.objectives, s.study.directions).map {
                                                    .object([("metric", .string($0)), ("direction", .string($1))]) })),
                                                ("created", .string(isoTime(s.study.created)))]
                m.append(("trials", .object(TrialState.allCases.map { ($0.rawValue.lowercased(), .number(Double(s.counts[$0] ?? 0))) })))
                if let last = s.lastActivity { m.append(("last_activity", .string(isoTime(last)))) }
                return .object(m)
            }).prettyText)
            return 0
        }
        guard !summaries.isEmpty else { print("no studies in \(store)"); return 0 }
        let rows = summaries.map { s -> [String] in
            let total = s.counts.values.reduce(0, +)
            return [s.study.name, String(total), String(s.counts[.complete] ?? 0), String(s.counts[.pruned] ?? 0),
                    String(s.counts[.infeasible] ?? 0), String(s.counts[.fail] ?? 0), String(s.counts[.stale] ?? 0),
                    String(s.counts[.running] ?? 0),
                    s.study.strategy,
                    zip(s.study.objectives, s.study.directions).map { "\($0) (\($1 == "minimize" ? "min" : "max"))" }.joined(separator: ", ")]
        }
        print(alignedTable(["study", "trials", "complete", "pruned", "infeasible", "failed", "stale", "running", "strategy", "objectives"], rows))
        return 0
    }
}

/// `autotune show STUDY`: the study's trials as a table.
struct ShowCommand: Command {
    static let configuration = CommandConfiguration(
        name: "show", abstract: "Show a study's trials: state, objectives, constraint metrics, wall time and parameters (with --full, late reports).",
        arguments: [.study], options: [.database, .storage, .full, .json])

    var target: StudyArgument
    var full: Bool
    var json: Bool

    init(_ values: ParsedValues) throws {
        target = try StudyArgument(values)
        full = values.flag("full")
        json = values.flag("json")
    }

    func run() throws -> Int32 {
        let study = try target.open()
        let spec = study.spec
        let trials = try study.trials()
        if json {
            print(JSONValue.object([("study", .string(study.name)), ("trials", .array(trials.map { trialJSON($0, space: spec.space) }))]).prettyText)
            return 0
        }
        guard !trials.isEmpty else { print("study '\(study.name)' has no trials yet"); return 0 }
        // Objectives, then the metrics constraints bound, then the wall time (named so that no
        // metric of a study can be mistaken for it).
        var metrics = spec.objectives.map(\.metric)
        for c in spec.constraints where !metrics.contains(c.metric) { metrics.append(c.metric) }
        let header = ["trial", "state"] + metrics + ["wall time", "parameters / message"]
        let rows = trials.map { t -> [String] in
            let seconds = t.finished.map { humanNumber($0.timeIntervalSince(t.started)) } ?? "-"
            let tail = t.state == .fail || t.state == .stale ? (t.message ?? "") : parameterCell(t, limit: full ? .max : 100)
            return [String(t.number), t.state.rawValue] + metrics.map { t.metrics[$0].map(humanNumber) ?? "-" } + [seconds, tail]
        }
        print(alignedTable(header, rows))
        let noted = trials.filter { !$0.notes.isEmpty }
        guard !noted.isEmpty else { return 0 }
        if full {
            print("\nlate reports, refused because the trial had gone STALE (its worker's lease expired):")
            for t in noted {
                for note in t.notes { print("trial \(t.number) (worker \(t.worker)), \(isoTime(note.time)): \(note.summary)") }
            }
        } else {
            print("\n\(noted.count) STALE trial\(noted.count == 1 ? " has" : "s have") late reports from \(noted.count == 1 ? "its" : "their") worker, "
                  + "refused and kept as notes (show --full lists them)")
        }
        return 0
    }
}

/// `autotune front STUDY`: the Pareto front (or the best trial) of a study.
struct FrontCommand: Command {
    static let configuration = CommandConfiguration(
        name: "front", abstract: "Print a study's Pareto front (its best trial for one objective) and hypervolume.",
        arguments: [.study], options: [.database, .storage, .full, .json])

    var target: StudyArgument
    var full: Bool
    var json: Bool

    init(_ values: ParsedValues) throws {
        target = try StudyArgument(values)
        full = values.flag("full")
        json = values.flag("json")
    }

    func run() throws -> Int32 {
        var view = try StudySummaryView(study: try target.open())
        view.fullParameters = full
        print(json ? view.json.prettyText : view.text)
        if let warning = view.referenceWarning { FileHandle.standardError.write(Data("autotune: warning: \(warning)\n".utf8)) }
        return 0
    }
}

extension Argument {
    /// `STUDY`: a study already in the store.
    static let study = Argument("study", valueName: "STUDY", help: "The study's name.")
}

/// The `STUDY` argument with `--db` or `--storage`: commands that read one existing study.
struct StudyArgument {
    var name: String
    var store: StudyStore

    init(_ values: ParsedValues) throws {
        name = try values.argument("study")
        store = try StudyStore(values)
    }

    /// The study, in a store which must exist (or an error listing the studies there are).
    func open() throws -> Study {
        try Study.open(name, in: try store.openExisting(), location: store.description, folder: store.folder(name))
    }
}
