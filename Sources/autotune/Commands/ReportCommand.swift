import Foundation
import Report
import Search
import Store

/// `autotune report STUDY`: one self-contained HTML page with the study's plots, front, front
/// members' configurations, space and settings.
struct ReportCommand: Command {
    static let configuration = CommandConfiguration(
        name: "report",
        abstract: "Write one self-contained HTML page about a study: plots, the front, every member's configuration, the space.",
        arguments: [.study],
        options: [.database, .storage,
                  .value("out", valueName: "PATH", help: "The HTML file to write.",
                         defaultDescription: "report.html in the study's folder beside the store")] + Option.plotScales)

    var target: StudyArgument
    var outPath: String?
    var scale: AxisScale

    init(_ values: ParsedValues) throws {
        target = try StudyArgument(values)
        outPath = try values.optionalValue("out")
        scale = try AxisScale(values)
    }

    func validate() throws {
        if let outPath { try requireWritableOutput(outPath, for: "--out") }
    }

    func run() throws -> Int32 {
        let opened = try target.open()
        let study = opened.record, spec = opened.spec
        let trials = try opened.trials()
        guard trials.contains(where: { $0.state.isFinished }) else {
            throw ReportError("study '\(study.name)' has no finished trials to report yet")
        }
        let folder = target.store.folder(study.name)
        let path = outPath ?? (folder as NSString).appendingPathComponent("report.html")
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw ReportError("\(path): cannot create its folder \(directory) (\(ErrorReport.reason(for: error)))", kind: .tool)
            }
        }

        // The SVG plots are drawn beside the page (their scripts too) and copied into it.
        var plots: [(name: String, svg: String)] = []
        var note: String?
        do {
            let plotter = StudyPlots(study: study, spec: spec, trials: trials, scale: scale)
            let plotDirectory = directory.isEmpty ? "." : directory
            for image in try plotter.draw(format: .svg, directory: plotDirectory, gnuplot: try .locate()) {
                let name = ((image as NSString).lastPathComponent as NSString).deletingPathExtension
                guard let svg = try? String(contentsOfFile: image, encoding: .utf8) else {
                    throw ReportError("\(image): cannot read the plot gnuplot wrote", kind: .tool)
                }
                plots.append((name, svg))
            }
        } catch let e as ReportError {
            note = "No plots: \(e.message)."
            FileHandle.standardError.write(Data("autotune: note: \(e.message); the report has no plots\n".utf8))
        }
        let exports = (try? ExportSource.pick(opened, trial: nil, rule: .knee)).map { [StudyReport.exportSection($0)] } ?? []
        let page = StudyReport(study: study, spec: spec, trials: trials, plots: plots, plotNote: note, extraSections: exports)
        do {
            try page.html.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw ReportError("\(path): cannot write the report (\(error.localizedDescription))", kind: .tool)
        }
        print(path)
        return 0
    }
}
