import Engine
import Foundation
import Search
import Store

/// One self-contained HTML page about a study: its settings, the plots (inline SVG), the Pareto
/// front as an ordered table, each parameter's importance per objective (with enough complete
/// trials), every front member's full configuration, the space it was searched over, and how to
/// export a member. No outside files, scripts or fonts: the page can be mailed.
///
///     let page = StudyReport(study: record, spec: spec, trials: trials, plots: [("front", svgText)])
///     try page.html.write(toFile: "results/quickstart/report.html", atomically: true, encoding: .utf8)
public struct StudyReport {
    public let study: StudyRecord
    public let spec: StudySpec
    public let trials: [TrialRecord]
    /// (name, SVG document) of each plot, in the order shown.
    public let plots: [(name: String, svg: String)]
    /// Why there are no plots, when there are none (gnuplot missing, nothing to draw).
    public let plotNote: String?
    /// Extra sections (title, HTML) placed after the front, e.g. a member's exported configs.
    public let extraSections: [(title: String, html: String)]

    public init(study: StudyRecord, spec: StudySpec, trials: [TrialRecord], plots: [(name: String, svg: String)],
                plotNote: String? = nil, extraSections: [(title: String, html: String)] = []) {
        self.study = study; self.spec = spec; self.trials = trials; self.plots = plots
        self.plotNote = plotNote; self.extraSections = extraSections
    }

    var analysis: StudyObjectives { StudyObjectives(objectives: spec.objectives, constraints: spec.constraints) }

    /// The front members in the order `autotune front` prints them (by the first objective).
    public var front: [TrialRecord] { analysis.front(trials).filter { $0.violation <= 0 } }

    /// The candidate a trial evaluated, as the evaluator received it (its parameters put back into
    /// the space's template); nil when the stored parameters no longer fit the space.
    public func configuration(of trial: TrialRecord) -> JSONValue? {
        guard let c = try? spec.space.configuration(from: trial.parameters) else { return nil }
        return spec.space.materialize(c)
    }

    public var html: String {
        let title = "autotune study \(study.name)"
        var body: [String] = [HTML.element("h1", HTML.escape(title))]
        body.append(HTML.element("section", HTML.element("h2", "Study") + settings, [("id", "study")]))
        body.append(HTML.element("section", HTML.element("h2", "Plots") + plotsHTML, [("id", "plots")]))
        body.append(HTML.element("section", HTML.element("h2", "Pareto front") + frontHTML, [("id", "front")]))
        if let importance = importanceHTML {
            body.append(HTML.element("section", HTML.element("h2", "Parameter importance") + importance, [("id", "importance")]))
        }
        body.append(HTML.element("section", HTML.element("h2", "Front members' configurations") + membersHTML, [("id", "members")]))
        for (i, s) in extraSections.enumerated() {
            body.append(HTML.element("section", HTML.element("h2", HTML.escape(s.title)) + s.html, [("id", "extra\(i)")]))
        }
        body.append(HTML.element("section", HTML.element("h2", "Search space") + HTML.code(study.space), [("id", "space")]))
        return HTML.page(title: title, body: body.joined(separator: "\n"), footer: "Made by autotune from the study store")
    }


    // MARK: - Sections

    var settings: String {
        var counts: [TrialState: Int] = [:]
        for t in trials { counts[t.state, default: 0] += 1 }
        let objectives = spec.objectives.map { "\($0.metric) (\($0.direction.rawValue))" }.joined(separator: ", ")
        var pairs: [(String, String)] = [
            ("objectives", objectives),
            ("constraints", spec.constraints.isEmpty ? "none"
                : spec.constraints.map { "\($0.metric) \($0.relation.rawValue) \(JSONValue.format($0.bound))" }.joined(separator: ", ")),
            ("evaluator", evaluatorText),
            ("strategy", study.strategy + (spec.earlyStopping.map { ", early stopping: \($0.kind.rawValue)" } ?? "")),
            ("seed", String(study.seed)),
            ("created", isoDate(study.created)),
            ("trials", TrialState.allCases.map { "\(counts[$0] ?? 0) \($0.rawValue.lowercased())" }.joined(separator: ", ")),
        ]
        let profiles = MetricLabel.profiles(of: spec)
        if !profiles.isEmpty { pairs.append(("hardware", profiles.joined(separator: ", "))) }
        if spec.objectives.count >= 2, let reference = study.referencePoint ?? analysis.chooseReferencePoint(trials) {
            let point = zip(spec.objectives, reference).map { "\($0.metric) \(JSONValue.format($1))" }.joined(separator: ", ")
            pairs.append(("hypervolume", "\(tableNumber(analysis.hypervolume(trials, reference: reference))) (reference \(point))"))
        }
        return HTML.definitions(pairs)
    }

    var evaluatorText: String {
        switch spec.evaluator {
        case .engine(let data, let epochs):
            return "built-in engine, data \(data.compactText)" + (epochs.map { ", at most \($0) epochs" } ?? "")
        case .command(let c): return "command: \(c.argv.joined(separator: " "))"
        case .benchmark(let problem, let variables, _): return "benchmark problem \(problem) (\(variables) variables)"
        case .meta(let m):
            return "training-step estimate on \(m.nodes) node(s) of \(m.gpusPerNode.map(String.init) ?? "the profile's") \(m.hardware), global batch \(m.globalBatch)"
        }
    }

    var plotsHTML: String {
        var out = plots.map { name, svg in
            HTML.element("figure", Self.inlineSVG(svg) + HTML.element("figcaption", HTML.escape(name.replacingOccurrences(of: "_", with: " "))),
                         [("id", "plot-\(name)")])
        }.joined(separator: "\n")
        if let plotNote { out += HTML.element("p", HTML.escape(plotNote), [("class", "note")]) }
        return out
    }

    /// An SVG file's `<svg>` element, without the XML prolog and doctype a page cannot hold.
    static func inlineSVG(_ document: String) -> String {
        guard let start = document.range(of: "<svg") else { return "" }
        return String(document[start.lowerBound...])
    }

    var frontHTML: String {
        let members = front
        guard !members.isEmpty else { return HTML.element("p", "No trial is complete and feasible yet.") }
        let header = ["#", "trial"] + spec.objectives.map(\.metric) + ["parameters"]
        let rows = members.enumerated().map { i, t -> [String] in
            [String(i + 1), String(t.number)] + spec.objectives.map { t.metrics[$0.metric].map(tableNumber) ?? "-" }
                + [t.parameters.map { "\($0.name)=\($0.json)" }.joined(separator: " ")]
        }
        let note = HTML.element("p", "\(members.count) non-dominated feasible trial\(members.count == 1 ? "" : "s"), ordered by \(HTML.escape(spec.objectives[0].metric)).")
        return note + HTML.table(header, rows, numeric: Set(0 ..< 2 + spec.objectives.count), id: "front-table")
    }

    var membersHTML: String {
        front.map { t in
            let metrics = t.metrics.sorted { $0.key < $1.key }.map { "\($0.key) = \(JSONValue.format($0.value))" }.joined(separator: ", ")
            let config = configuration(of: t).map { HTML.code($0.prettyText) } ?? HTML.element("p", "(its parameters no longer fit the space)")
            return HTML.element("details", HTML.element("summary", "trial \(t.number)") + HTML.element("p", HTML.escape(metrics)) + config,
                                [("id", "trial-\(t.number)")])
        }.joined(separator: "\n")
    }
}

extension StudyReport {
    /// The "Exports" section: the knee of the front as `autotune export` writes it — its recipe
    /// and, for a study that trains, its DeepSpeed config — and the commands that export any member.
    public static func exportSection(_ picked: PickedTrial) -> (title: String, html: String) {
        let name = picked.study.name
        var html = HTML.element("p", HTML.escape("Trial \(picked.trial.number), \(picked.choice)."))
        for format in [ExportFormat.recipe, .deepspeed] {
            guard let out = try? Exporter.export(picked, as: format, to: format.fileName), let main = out.files.first else { continue }
            html += HTML.element("h3", HTML.escape(main.path)) + HTML.code(main.text)
            if !out.commands.isEmpty { html += HTML.element("p", "Run it with:") + HTML.code(out.commands.joined(separator: "\n")) }
        }
        let commands = ExportFormat.allCases.map { "autotune export \(name) --format \($0.rawValue)" }
            + ["autotune export \(name) --format recipe --trial N", "autotune export \(name) --format deepspeed --pick 'best:METRIC'"]
        html += HTML.element("p", "Any member, in any format:") + HTML.code(commands.joined(separator: "\n"))
        return ("Exports", html)
    }
}

/// Six significant digits: what a table of results needs.
func tableNumber(_ x: Double) -> String { String(format: "%.6g", x) }

/// "2026-12-06 20:41:07 UTC".
func isoDate(_ date: Date) -> String {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = TimeZone(identifier: "UTC")
    f.dateFormat = "yyyy-MM-dd HH:mm:ss 'UTC'"
    return f.string(from: date)
}
