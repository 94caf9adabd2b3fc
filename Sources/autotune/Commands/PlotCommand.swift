import Engine
import Foundation
import Report
import Search
import Store

extension Option {
    /// `--format png|svg` for plots.
    static let plotFormat = Option.value("format", valueName: "png|svg", help: "Image format.", default: "png")
    /// `--log` and `--linear`: how the objective axes of the fronts are scaled.
    static let plotScales: [Option] = [
        .flag("log", help: "Logarithmic objective axes (where every value is positive)."),
        .flag("linear", help: "Linear objective axes. Default: linear unless the values span more than three decades."),
    ]
}

extension AxisScale {
    /// From `--log` and `--linear`; both at once is a usage error.
    init(_ values: ParsedValues) throws {
        switch (values.flag("log"), values.flag("linear")) {
        case (true, true): throw CLIError.badInput("--log and --linear contradict each other: give one")
        case (true, false): self = .log
        case (false, true): self = .linear
        case (false, false): self = .automatic
        }
    }
}

/// `autotune plot STUDY`: draw a study's front, hypervolume, learning curves and parallel
/// coordinates with gnuplot.
struct PlotCommand: Command {
    static let configuration = CommandConfiguration(
        name: "plot",
        abstract: "Draw a study's Pareto front, hypervolume over trials, learning curves and parallel coordinates (gnuplot).",
        arguments: [.study],
        options: [.database, .storage, .plotFormat] + Option.plotScales + [
                  .value("out", valueName: "DIR", help: "Directory for the images and their gnuplot scripts.",
                         defaultDescription: "<study> beside the store: results/<study> for the default --db")])

    var target: StudyArgument
    var format: PlotFormat
    var outDirectory: String?
    var scale: AxisScale

    init(_ values: ParsedValues) throws {
        target = try StudyArgument(values)
        let name: String = try values.value("format")
        guard let format = PlotFormat(rawValue: name) else {
            throw CLIError.invalidValue(name: "--format", value: name, reason: "valid: png, svg",
                                        suggestion: closestMatch(to: name, among: PlotFormat.allCases.map(\.rawValue)))
        }
        self.format = format
        outDirectory = try values.optionalValue("out")
        scale = try AxisScale(values)
    }

    func validate() throws {
        if let outDirectory { try requireWritableOutput(outDirectory, for: "--out") }
    }

    func run() throws -> Int32 {
        let opened = try target.open()
        let study = opened.record, spec = opened.spec
        let trials = try opened.trials()
        let directory = outDirectory ?? target.store.folder(study.name)
        let paths = try StudyPlots(study: study, spec: spec, trials: trials, scale: scale).draw(format: format, directory: directory, gnuplot: try .locate())
        for p in paths { print(p) }
        return 0
    }
}
