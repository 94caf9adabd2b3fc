import Engine
import Foundation
import Report
import Search
import Store

/// `autotune export STUDY`: a study's chosen trial as configs a training job runs.
struct ExportCommand: Command {
    static let configuration = CommandConfiguration(
        name: "export",
        abstract: "Write a study's chosen trial as a DeepSpeed config, an Accelerate config, a recipe to rerun, its model as ONNX, or a PyTorch training script.",
        usage: "STUDY [--format deepspeed|accelerate|recipe|onnx|pytorch] [--trial N | --pick RULE] [--stack deepspeed|fsdp] [--devices N] [--allow-loss] [--out PATH] [--db PATH | --storage URL] [--json]",
        arguments: [.study],
        options: [
            .value("format", valueName: "FORMAT", help: "deepspeed (ds_config.json and launch.sh), accelerate (accelerate.yaml, and accelerate_ds_config.json under DeepSpeed), recipe (recipe.json, which 'autotune eval' reruns), onnx (model.onnx: an engine trial's model from the weights its study kept, else its recipe trained again) or pytorch (a folder: train.py, the trial's data as .npy, ds_config.json, accelerate.yaml, README.txt). Without it, the formats are listed.",
                   defaultDescription: "list the formats"),
            .value("trial", valueName: "N", help: "Export trial N (it must be COMPLETE)."),
            .value("pick", valueName: "RULE", help: "Choose the trial: knee, best:METRIC or best:METRIC:min|max, then constraints such as ,params<=100000.",
                   defaultDescription: "knee"),
            .value("devices", valueName: "N", help: "Run an engine trial's job on N data-parallel processes with the same global batch (micro-batch = batch / N).",
                   defaultDescription: "1"),
            .value("out", valueName: "PATH", help: "The main file to write, or a directory to write it in ('-' prints it on stdout); companions go beside it. For pytorch, the folder.",
                   defaultDescription: "the study's folder beside the store (results/STUDY/, for pytorch results/STUDY/pytorch/) and the format's file name"),
            .value("stack", valueName: "STACK", help: "Where an Accelerate export runs a ZeRO plan: deepspeed, or fsdp (PyTorch's FSDP).",
                   defaultDescription: "deepspeed"),
            .flag("allow-loss", help: "Write an export that cannot carry every setting of the trial, naming each dropped setting on stderr (without it, such an export fails and lists them)."),
            .database, .storage, .json,
        ])

    var target: StudyArgument
    /// Nil: list the formats.
    var format: ExportFormat?
    var stack: ExportStack
    var allowLoss: Bool
    var trial: Int?
    var rule: PickRule?
    var out: String?
    var devices: Int
    var json: Bool

    init(_ values: ParsedValues) throws {
        target = try StudyArgument(values)
        if let name = try values.optionalValue("format", as: String.self) {
            do { format = try ExportFormat.named(name) } catch {
                let names = ExportFormat.allCases.map(\.rawValue)
                throw CLIError.invalidValue(name: "--format", value: name, reason: "use one of \(names.joined(separator: ", "))",
                                            suggestion: closestMatch(to: name, among: names))
            }
        }
        let stackName = try values.optionalValue("stack", as: String.self) ?? ExportStack.deepspeed.rawValue
        guard let stack = ExportStack(rawValue: stackName) else {
            let names = ExportStack.allCases.map(\.rawValue)
            throw CLIError.invalidValue(name: "--stack", value: stackName, reason: "use one of \(names.joined(separator: ", "))",
                                        suggestion: closestMatch(to: stackName, among: names))
        }
        self.stack = stack
        allowLoss = values.flag("allow-loss")
        trial = try values.optionalValue("trial")
        rule = try values.optionalValue("pick", as: String.self).map(PickRule.parse)
        out = try values.optionalValue("out")
        devices = try values.optionalValue("devices") ?? 1
        json = values.flag("json")
    }

    func validate() throws {
        if let trial { try requireAtLeast(0, trial, for: "--trial") }
        try requireAtLeast(1, devices, for: "--devices")
        if format == .pytorch, out == "-" {
            throw CLIError.invalidValue(name: "--out", value: "-", reason: "a pytorch export is a folder of files: give a directory")
        }
        if trial != nil, let rule { throw CLIError.invalidValue(name: "--pick", value: rule.text, reason: "give --trial or --pick, not both") }
        if json, out == "-" { throw CLIError.invalidValue(name: "--out", value: "-", reason: "--json prints its own document on stdout") }
        if out?.isEmpty == true { throw CLIError.invalidValue(name: "--out", value: "", reason: "give a file path or '-'") }
        if let out, out != "-" { try requireWritableOutput(out, for: "--out") }
    }

    func run() throws -> Int32 {
        let study = try target.open()
        guard let format else {
            print(formatList(study))
            return 0
        }
        let picked = try ExportSource.pick(study, trial: trial, rule: rule, devices: devices)
        let toStdout = out == "-"
        if toStdout, format == .onnx { throw CLIError.invalidValue(name: "--out", value: "-", reason: "an ONNX model is binary: give a file path") }
        var output = try Exporter.export(picked, as: format, to: toStdout ? format.fileName : mainPath(study: picked.study.name, format: format),
                                         stack: stack, progress: Output.progress(quiet: json),
                                         notice: { FileHandle.standardError.write(Data("autotune: note: \($0)\n".utf8)) })
        if !output.lost.isEmpty, !allowLoss {
            throw CLIError.badInput("the \(format.rawValue) export of trial \(picked.trial.number) of study '\(picked.study.name)' would lose: "
                                    + output.lost.joined(separator: "; ") + " (write it anyway with --allow-loss)")
        }
        if let dominance = picked.offFront { output.warnings.insert(dominance, at: 0) }
        output.warnings += output.lost.map { "dropped: " + $0 }
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
                ("lost", .array(output.lost.map { .string($0) })),
                ("notes", .array(output.notes.map { .string($0) })),
                ("lost", .array(output.lost.map { .string($0) })),
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
    /// `results/STUDY/` and the format's file name. A pytorch export is a folder: `--out` or
    /// `results/STUDY/pytorch/`, with train.py inside.
    private func mainPath(study: String, format: ExportFormat) -> String {
        if format == .pytorch {
            let folder = out ?? (target.store.folder(study) as NSString).appendingPathComponent("pytorch")
            return (folder as NSString).appendingPathComponent(format.fileName)
        }
        guard let out else {
            return (target.store.folder(study) as NSString).appendingPathComponent(format.fileName)
        }
        var isDirectory: ObjCBool = false
        if out.hasSuffix("/") || (FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory) && isDirectory.boolValue) {
            return (out as NSString).appendingPathComponent(format.fileName)
        }
        return out
    }

    /// The formats, each with what it writes, and whether this study has anything to write in it.
    private func formatList(_ study: Study) -> String {
        let evaluator = study.spec.evaluator.name
        var lines = ["formats for study '\(study.name)' (\(evaluator) evaluator); export with --format FORMAT:"]
        for f in ExportFormat.allCases {
            var note = ""
            if !ExportFormat.usable(f, spec: study.spec) {
                note = study.spec.evaluator.name == "command" && f != .onnx ? " (needs an export.\(f.rawValue) section in the space)" : " (not for a \(evaluator) study)"
            }
            lines.append("  " + f.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0) + f.summary + note)
        }
        return lines.joined(separator: "\n")
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
