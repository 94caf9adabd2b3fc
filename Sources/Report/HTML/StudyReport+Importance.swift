import Foundation
import Search

extension StudyReport {
    /// The "Parameter importance" section: per objective, a bar chart of each parameter's share
    /// (PED-ANOVA, as `autotune importance` prints it); nil when the study has too few complete
    /// trials for it, or no parameters.
    var importanceHTML: String? {
        guard !spec.space.isEmpty,
              let results = try? StudyImportance.compute(trials: trials, space: spec.space, objectives: spec.objectives)
        else { return nil }
        let options = PEDANOVA.Options()
        let note = HTML.element("p", HTML.escape(
            "How much each parameter decides whether a trial is among the best \(StudyImportance.percent(options.targetQuantile)) "
            + "of the complete trials, per objective; the shares of one objective sum to 1 "
            + "(PED-ANOVA: Watanabe, Bansal & Hutter, IJCAI 2023)."))
        return note + results.map { r in
            let caption = "\(r.objective.metric) (\(r.objective.direction.rawValue)): the best \(r.topTrials) of \(r.trials) complete trials"
            return HTML.element("figure", Self.importanceChart(r) + HTML.element("figcaption", HTML.escape(caption)),
                                [("id", "importance-\(r.objective.metric)")])
        }.joined(separator: "\n")
    }

    /// A horizontal bar chart as inline SVG: the `limit` most important parameters, their share
    /// as a bar (full width = 1) and as a number; how many more there are below.
    static func importanceChart(_ result: ObjectiveImportance, limit: Int = 15) -> String {
        let shown = Array(result.parameters.prefix(limit))
        let rest = result.parameters.count - shown.count
        let row = 20.0, barWidth = 300.0, numberWidth = 60.0
        // About 7 px per character at 12 px: the longest name sets the label column.
        let labelWidth = min(max(Double(shown.map(\.name.count).max() ?? 0) * 7 + 12, 80), 360)
        let width = labelWidth + barWidth + numberWidth
        let height = row * Double(shown.count + (rest > 0 ? 1 : 0)) + 4
        func f(_ x: Double) -> String { String(format: "%.1f", x) }
        var parts = ["<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(width))\" height=\"\(f(height))\" "
                     + "viewBox=\"0 0 \(f(width)) \(f(height))\" font-family=\"sans-serif\" font-size=\"12\" role=\"img\">"]
        for (i, p) in shown.enumerated() {
            let y = Double(i) * row + 2, middle = y + row / 2 + 4
            let length = max(p.importance, 0) * barWidth
            parts.append("<g><title>\(HTML.escape(p.name)): \(String(format: "%.4f", p.importance))</title>"
                         + "<text x=\"\(f(labelWidth - 6))\" y=\"\(f(middle))\" text-anchor=\"end\">\(HTML.escape(p.name))</text>"
                         + "<rect x=\"\(f(labelWidth))\" y=\"\(f(y + 3))\" width=\"\(f(length))\" height=\"\(f(row - 6))\" fill=\"#4477aa\"/>"
                         + "<text x=\"\(f(labelWidth + length + 4))\" y=\"\(f(middle))\">\(String(format: "%.3f", p.importance))</text></g>")
        }
        if rest > 0 {
            let y = Double(shown.count) * row + 2 + row / 2 + 4
            parts.append("<text x=\"\(f(labelWidth - 6))\" y=\"\(f(y))\" text-anchor=\"end\" fill=\"#666\">"
                         + "\(rest) more parameter\(rest == 1 ? "" : "s")</text>")
        }
        parts.append("</svg>")
        return parts.joined(separator: "\n")
    }
}
