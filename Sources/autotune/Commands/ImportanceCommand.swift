import Engine
import Foundation
import Search

/// `autotune importance STUDY`: which parameters decide whether a trial is among the best, per
/// objective (PED-ANOVA over the study's COMPLETE trials).
struct ImportanceCommand: Command {
    static let configuration = CommandConfiguration(
        name: "importance",
        abstract: "Show how much each parameter decides whether a trial is among a study's best, per objective (PED-ANOVA).",
        arguments: [.study],
        options: [.database, .storage,
                  .value("objective", valueName: "METRIC", help: "Only this objective.", defaultDescription: "every objective"),
                  .json])

    var target: StudyArgument
    var objective: String?
    var json: Bool

    init(_ values: ParsedValues) throws {
        target = try StudyArgument(values)
        objective = try values.optionalValue("objective")
        json = values.flag("json")
    }

    func run() throws -> Int32 {
        let study = try target.open()
        let options = PEDANOVA.Options()
        let results = try study.importance(of: objective, options: options)
        print(json ? Self.json(results, study: study.name, options: options).prettyText : Self.text(results, study: study.name, options: options))
        return 0
    }

    /// The table: a row per parameter (by importance for the first objective shown), a bar and
    /// a share per objective.
    static func text(_ results: [ObjectiveImportance], study: String, options: PEDANOVA.Options) -> String {
        guard let first = results.first else { return "" }
        let best = StudyImportance.percent(options.targetQuantile)
        var lines = ["study '\(study)': parameter importance (PED-ANOVA: what puts a trial among the best \(best) "
                     + "of its \(first.trials) complete trials)"]
        let header = ["parameter"] + results.map { "\($0.objective.metric) (\($0.objective.direction == .minimize ? "min" : "max"))" }
        let rows = first.parameters.map { p -> [String] in
            [p.name] + results.map { r in
                let share = r.parameters.first { $0.name == p.name }?.importance ?? 0
                return bar(share) + " " + String(format: "%.3f", share)
            }
        }
        lines.append(alignedTable(header, rows))
        for r in results where r.parameters.allSatisfy({ $0.variance == 0 }) {
            lines.append("note: no parameter separates the best trials of '\(r.objective.metric)' from the rest")
        }
        return lines.joined(separator: "\n")
    }

    /// A share 0…1 as a bar of `width` characters in eighths of a block, padded with spaces.
    static func bar(_ share: Double, width: Int = 20) -> String {
        let eighths = Int((min(max(share, 0), 1) * Double(width * 8)).rounded())
        let partial = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"][eighths % 8]
        let text = String(repeating: "█", count: eighths / 8) + partial
        return text + String(repeating: " ", count: width - text.count)
    }

    static func json(_ results: [ObjectiveImportance], study: String, options: PEDANOVA.Options) -> JSONValue {
        .object([
            ("study", .string(study)),
            ("method", .string("PED-ANOVA")),
            ("target_quantile", .number(options.targetQuantile)),
            ("region_quantile", .number(options.regionQuantile)),
            ("objectives", .array(results.map { r in
                .object([
                    ("metric", .string(r.objective.metric)),
                    ("direction", .string(r.objective.direction.rawValue)),
                    ("trials", .number(Double(r.trials))),
                    ("top_trials", .number(Double(r.topTrials))),
                    ("parameters", .array(r.parameters.map { p in
                        .object([("name", .string(p.name)), ("importance", .number(p.importance)), ("variance", .number(p.variance))])
                    })),
                ])
            })),
        ])
    }
}
