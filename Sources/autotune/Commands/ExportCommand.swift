import Engine
import Foundation
import Report
import Search
import Store

/// `autotune export STUDY`: a study's chosen trial as configs a training job runs.
struct ExportCommand: Command {
    static let configuration = CommandConfiguration(
        name: "export",
        abstract: "Write a study's chosen trial as a DeepSpeed config, an Accelerate config, a recipe to rerun, or its model as ONNX.",
        usage: "STUDY --format deepspeed|accelerate|recipe|onnx [--trial N | --pick RULE] [--out PATH] [--db PATH | --storage URL] [--json]",
        arguments: [.study],
        options: [
            .value("format", valueName: "FORMAT", help: "deepspeed (ds_config.json and launch.sh), accelerate (accelerate.yaml, and accelerate_ds_config.json under DeepSpeed), recipe (recipe.json, which 'autotune eval' reruns) or onnx (model.onnx: an engine trial's recipe trained again and exported)."),
            .value("trial", valueName: "N", help: "Export trial N (it must be COMPLETE)."),
            .value("pick", valueName: "RULE", help: "Choose the trial: knee, best:METRIC or best:METRIC:min|max, then constraints such as ,params<=100000.",
                   defaultDescription: "knee"),
            .value("out", valueName: "PATH", help: "The main file to write, or a directory to write it in ('-' prints it on stdout); companions go beside it.",
                   defaultDescription: "the study's folder beside the store (results/STUDY/) and the format's file name"),
            .database, .storage, .json,
        ])

    var target: StudyArgument
    var format: ExportFormat
    var trial: Int?
    var rule: PickRule?
    var out: String?
    var json: Bool

    init(_ values: ParsedValues) throws {
        target = try StudyArgument(values)
        let name: String = try values.value("format")
        do { format = try ExportFormat.named(name) } catch {
            let names = ExportFormat.allCases.map(\.rawValue)
            throw CLIError.invalidValue(name: "--format", value: name, reason: "use one of \(names.joined(separator: ", "))",
                                        suggestion: closestMatch(to: name, among: names))
        }
        trial = try values.optionalValue("trial")
        rule = try values.optionalValue("pick", as: String.self).map(PickRule.parse)
        out = try values.optionalValue("out")
        json = values.flag("json")
    }

    func validate() throws {
        if let trial { try requireAtLeast(0, trial, for: "--trial") }
        if trial != nil, let rule { throw CLIError.invalidValue(name: "--pick", value: rule.text, reason: "give --trial or --pick, not both") }
        if json, out == "-" { throw CLIError.invalidValue(name: "--out", value: "-", reason: "--json prints its own document on stdout") }
        if out?.isEmpty == true { throw CLIError.invalidValue(name: "--out", value: "", reason: "give a file path or '-'") }
        if let out, out != "-" { try requireWritableOutput(out, for: "--out") }
    }

    func run() throws -> Int32 {
        let picked = try ExportSource.pick(try target.open(), trial: trial, rule: rule)
        let toStdout = out == "-"
        if toStdout, format == .onnx { throw CLIError.invalidValue(name: "--out", value: "-", reason: "an ONNX model is binary: give a file path") }
        var output = try Exporter.export(picked, as: format, to: toStdout ? format.fileName : mainPath(study: picked.study.name),
                                         progress: Output.progress(quiet: json))
        var written: [String] = []
        if toStdout {
            print(output.files[0].text, terminator: "")
            if output.files.count > 1, format == .accelerate {
                output.warnings.append("the config names \(output.files[1].path), which --out - does not write: "
                                       + "write it with --format deepspeed --out \(output.files[1].path)")
            }
        } else {
            for file in output.files {
                try write(file)
                written.append(file.path)
            }
        }
        let summary = pickedLine(picked)
        if json {
            print(JSONValue.object([
                ("study", .string(picked.study.name)), ("trial", .number(Double(picked.trial.number))), ("choice", .string(picked.choice)),
                ("objectives", .object(picked.spec.objectives.compactMap { o in picked.trial.metrics[o.metric].map { (o.metric, .number($0)) } })),
                ("format", .string(format.rawValue)), ("files", .array(written.map { .string($0) })),
                ("commands", .array(output.commands.map { .string($0) })), ("warnings", .array(output.warnings.map { .string($0) })),
                ("notes", .array(output.notes.map { .string($0) })),
            ]).prettyText)
            return 0
        }
        let report = { (line: String) in
            if toStdout { FileHandle.standardError.write(Data((line + "\n").utf8)) } else { print(line) }
        }
        report(summary)
        for note in output.notes { report(note) }
        for path in written { report("wrote \(path)") }
        for (i, command) in output.commands.enumerated() { report((i == 0 ? "run:   " : "or:    ") + command) }
        for warning in output.warnings { FileHandle.standardError.write(Data("autotune: warning: \(warning)\n".utf8)) }
        return 0
    }

    /// Where the main file goes: `--out`, inside it when it names a directory, else
    /// `results/STUDY/` and the format's file name.
    private func mainPath(study: String) -> String {
        guard let out else {
            return (target.store.folder(study) as NSString).appendingPathComponent(format.fileName)
        }
        var isDirectory: ObjCBool = false
        if out.hasSuffix("/") || (FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory) && isDirectory.boolValue) {
            return (out as NSString).appendingPathComponent(format.fileName)
        }
        return out
    }

    /// "picked trial 12 of study 'q' (knee): accuracy 0.853, flops 120k".
    private func pickedLine(_ p: PickedTrial) -> String {
        let values = p.spec.objectives.map { o in "\(o.metric) " + (p.trial.metrics[o.metric].map(humanNumber) ?? "-") }
        return "picked trial \(p.trial.number) of study '\(p.study.name)' (\(p.choice)): " + values.joined(separator: ", ")
    }

    /// Write `file`, creating its directory; a failure is an I/O error (exit 1).
    private func write(_ file: ExportFile) throws {
        let url = URL(fileURLWithPath: file.path)
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try file.contents.write(to: url, options: .atomic)
            if url.lastPathComponent.hasSuffix(".sh") {
                try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file.path)
            }
        } catch {
            throw CLIError.runtime("cannot write \(file.path): \(ErrorReport.reason(for: error))")
        }
    }
}
