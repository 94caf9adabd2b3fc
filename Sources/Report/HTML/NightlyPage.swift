import Foundation

/// The nightly benchmark's page: the run's facts, the summary table (regressions marked) and the
/// trend plots inline, self-contained like a study's report.
///
///     let page = NightlyPage(title: "autotune nightly, run 12", facts: [("commit", "3c7acdc")],
///                            header: ["metric", "now", "baseline", "change", "verdict"], rows: rows,
///                            regressions: [3], plots: [("engine", svg)])
public struct NightlyPage {
    public var title: String
    public var facts: [(String, String)]
    public var header: [String]
    public var rows: [[String]]
    /// Indexes of `rows` to mark as regressions.
    public var regressions: Set<Int>
    public var plots: [(name: String, svg: String)]
    public var plotNote: String?

    public init(title: String, facts: [(String, String)], header: [String], rows: [[String]], regressions: Set<Int>,
                plots: [(name: String, svg: String)], plotNote: String? = nil) {
        self.title = title; self.facts = facts; self.header = header; self.rows = rows
        self.regressions = regressions; self.plots = plots; self.plotNote = plotNote
    }

    public var html: String {
        let tableRows = rows.enumerated().map { i, row in
            HTML.element("tr", row.map { HTML.element("td", HTML.escape($0)) }.joined(), regressions.contains(i) ? [("class", "regression")] : [])
        }.joined(separator: "\n")
        let table = HTML.element("table", HTML.element("thead", HTML.element("tr", header.map { HTML.element("th", HTML.escape($0)) }.joined()))
                                 + "\n" + HTML.element("tbody", tableRows), [("id", "summary")])
        var plotsHTML = plots.map { name, svg in
            HTML.element("figure", StudyReport.inlineSVG(svg) + HTML.element("figcaption", HTML.escape(name)), [("id", "trend-\(name)")])
        }.joined(separator: "\n")
        if let plotNote { plotsHTML += HTML.element("p", HTML.escape(plotNote)) }
        let body = [HTML.element("h1", HTML.escape(title)), HTML.definitions(facts), HTML.element("h2", "Summary"), table,
                    HTML.element("h2", "Trends"), plotsHTML].joined(separator: "\n")
        return HTML.page(title: title, extraStyle: " tr.regression td{background:#fde8e8;color:#a40000;font-weight:600}",
                         body: body, footer: "Made by autotune bench nightly")
    }
}
