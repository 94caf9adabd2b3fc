import Engine
import Foundation
import Hardware
import Parallel


/// `autotune calibrate`: fit a profile's efficiency factors to the user's own measured runs and
/// write the fitted profile, which every command takes with `--hardware FILE`.
struct CalibrateCommand: Command {
    static let configuration = CommandConfiguration(
        name: "calibrate",
        abstract: "Fit a hardware profile's efficiency factors to measured training runs (least squares on their relative errors) and write the fitted profile for --hardware FILE.",
        usage: "MEASURED.json --hardware NAME [--fit FACTOR,...] [--name NAME] [--out FILE] [--json]",
        arguments: [
            Argument("measured", valueName: "MEASURED.json",
                     help: "{\"runs\": [...]}: each run a gpt model, nodes, gpus_per_node, global_batch, parallelism, precision, and one measurement (step_seconds, tokens_per_second, tflops_per_device or mfu), optionally peak_memory_gib."),
        ],
        options: [
            .value("hardware", valueName: "NAME", help: "The profile to start from: a built-in name, host, or a profile file."),
            .value("fit", valueName: "FACTOR,...", help: "The efficiency factors to fit: matmul, matmul_half_intensity, vector, memory, network.",
                   default: "matmul"),
            .value("name", valueName: "NAME", help: "The fitted profile's name.", defaultDescription: "the profile's name + \"-calibrated\""),
            .value("out", valueName: "FILE", help: "Where the fitted profile is written.", defaultDescription: "results/NAME.json"),
            .json,
        ])

    var measured: String
    var hardware: String?
    var factors: [EfficiencyFit.Factor]
    var name: String?
    var out: String?
    var json: Bool

    init(_ values: ParsedValues) throws {
        measured = try values.argumentValues("measured", as: String.self).first ?? ""
        hardware = try values.optionalValue("hardware")
        let text: String = try values.value("fit")
        factors = []
        for word in text.split(separator: ",", omittingEmptySubsequences: false).map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard let f = EfficiencyFit.Factor(rawValue: word) else {
                throw CLIError.invalidValue(name: "--fit", value: word,
                                            reason: "not an efficiency factor (valid: \(EfficiencyFit.Factor.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            if !factors.contains(f) { factors.append(f) }
        }
        name = try values.optionalValue("name")
        out = try values.optionalValue("out")
        json = values.flag("json")
    }

    func validate() throws {
        guard !measured.isEmpty else { throw CLIError.missingArgument("MEASURED.json") }
        guard hardware != nil else { throw CLIError.missingValue(option: "--hardware") }
        if let name, name.isEmpty { throw CLIError.invalidValue(name: "--name", value: name, reason: "must not be empty") }
    }

    func run() throws -> Int32 {
        let runs = try loadJSONConfig(MeasuredRuns.self, path: measured).runs
        let profile = try ProfileLibrary.profile(named: hardware!)
        let result: Calibration.Result
        do {
            result = try Calibration.fit(runs, on: profile, factors: factors, name: name,
                                         source: URL(fileURLWithPath: measured).lastPathComponent)
        } catch let e as PlanError {
            throw InputFileError(file: measured, reason: "\(e.key): \(e.reason) (on \(profile.name))")
        }
        let path = out ?? "results/\(result.profile.name).json"
        try write(result.profile, to: path)
        if json {
            try Output.printJSON(CalibrationReport(profile: result.profile.name, file: path,
                                                   efficiency: result.profile.efficiency, runs: result.runs))
        } else {
            print(Self.table(result, path: path))
        }
        return 0
    }

    func write(_ profile: HardwareProfile, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let url = URL(fileURLWithPath: path)
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try (encoder.encode(profile) + Data("\n".utf8)).write(to: url)
        } catch {
            throw CLIError.runtime("\(path): cannot write the profile: \(error.localizedDescription)")
        }
    }

    /// The fit: the factors, then each run measured, before and after, and its error.
    static func table(_ r: Calibration.Result, path: String) -> String {
        let e = r.profile.efficiency
        var lines = ["fitted " + r.factors.map { String(format: "%@ %.4g", $0.rawValue, EfficiencyFit.value(e, $0)) }.joined(separator: ", ")
                     + " on \(r.runs.count) run\(r.runs.count == 1 ? "" : "s") (\(r.evaluations) evaluations)"]
        let width = max(4, r.runs.map(\.name.count).max() ?? 0)
        lines.append("run".padding(toLength: width, withPad: " ", startingAt: 0)
                     + "  metric               measured     before  error      after  error   memory GiB (measured)")
        for row in r.runs {
            var line = row.name.padding(toLength: width, withPad: " ", startingAt: 0)
            line += "  " + row.metric.padding(toLength: 17, withPad: " ", startingAt: 0)
            line += String(format: " %12.4g %10.4g %+6.1f%% %10.4g %+6.1f%%", row.measured, row.before, row.errorBeforePercent,
                           row.after, row.errorAfterPercent)
            line += String(format: "   %.1f", row.predictedMemoryGiB) + (row.measuredMemoryGiB.map { String(format: " (%.1f)", $0) } ?? "")
            if row.infeasible != nil { line += "  does not fit" }
            lines.append(line)
        }
        lines.append("wrote \(r.profile.name) to \(path); use it with --hardware \(path)")
        return lines.joined(separator: "\n")
    }
}

/// `calibrate --json`: the profile written, its factors, and each run before and after.
struct CalibrationReport: Encodable {
    var profile: String
    var file: String
    var efficiency: HardwareProfile.Efficiency
    var runs: [Calibration.Row]
}
