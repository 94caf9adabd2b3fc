import Compression
import Engine
import Foundation
import Report

/// `autotune eval CANDIDATE.json`: train and evaluate one candidate and print its metrics.
struct EvalCommand: Command {
    static let configuration = CommandConfiguration(
        name: "eval",
        abstract: "Train, compress and evaluate one candidate and print its metrics.",
        arguments: [
            Argument("candidate", valueName: "CANDIDATE.json",
                     help: "The candidate: a JSON file with an architecture, a training config and data, optionally a precision and a compression pipeline."),
        ],
        options: [.json, .threads, .dataDirectory,
                  .value("teacher-cache", valueName: "DIR", help: "Keep distillation teachers trained here, and reuse those found (by the hash of their candidate)."),
                  .value("onnx", valueName: "PATH", help: "Write the final (trained, compressed) model as an ONNX file."),
                  .value("predictions", valueName: "PATH", help: "Write the final model's predicted class for every test sample, one per line, in test-set order."),
                  .value("test-inputs", valueName: "PATH", help: "Write the test inputs the predictions are for, as a float32 .npy array (samples, ...sample shape)."),
                  .quiet])

    /// Path of the candidate file, as given.
    var candidatePath: String
    var json: Bool
    /// At least 1.
    var threads: Int
    var dataDirectory: String?
    var teacherCache: String?
    /// Where the final model and its test-set outputs go, if anywhere.
    var outputs: EvalOutputs
    var quiet: Bool
    /// Whether `--threads` was given (it then overrides the candidate's own `training.threads`).
    var threadsGiven: Bool

    init(_ values: ParsedValues) throws {
        candidatePath = try values.argument("candidate")
        json = values.flag("json")
        threads = try values.value("threads")
        threadsGiven = values.options["threads"] != nil
        dataDirectory = try values.optionalValue("data-dir")
        teacherCache = try values.optionalValue("teacher-cache")
        outputs = EvalOutputs(onnx: try values.optionalValue("onnx"), predictions: try values.optionalValue("predictions"),
                              testInputs: try values.optionalValue("test-inputs"))
        quiet = values.flag("quiet")
    }

    func validate() throws {
        try requireAtLeast(1, threads, for: "--threads")
        try outputs.validate()
    }

    func run() throws -> Int32 {
        var recipe = try Recipe.load(path: candidatePath)
        if threadsGiven || recipe.candidate.training.threads == nil { recipe.candidate.training.threads = threads }
        if let dir = dataDirectory { recipe.candidate.data.directory = dir }
        let progress = Output.progress(quiet: quiet || json)
        let epochLine = { (e: EpochRecord) -> Void in
            progress?("epoch \(e.epoch): train loss \(humanNumber(e.trainLoss)), "
                      + "train accuracy \(humanNumber(e.trainAccuracy))"
                      + (e.validationAccuracy.map { ", validation accuracy \(humanNumber($0))" } ?? "")
                      + ", \(humanNumber(e.seconds)) s")
        }
        if outputs.onnx != nil, !ONNXExporter.canExport(recipe) {
            throw InputFileError(file: candidatePath, reason: "precision: an ONNX model cannot round activations to TF32 as the engine does; use fp32, fp16 or bf16 with --onnx")
        }
        let data = EvalOutputs.TestSet()
        do {
            guard recipe.precision != .fp32 || !recipe.compression.isEmpty else {
                let trainer = Trainer(candidate: recipe.candidate)
                trainer.loadData = data.loader
                let report = try trainer.run(progress: epochLine)
                if let model = trainer.model { try outputs.write(model, test: data.test, rounding: .fp32) }
                if json { try Output.printJSON(report) } else { print(Self.table(report)) }
                return 0
            }
            let runner = CompressionRunner(recipe: recipe)
            runner.loadData = data.loader
            runner.log = { progress?($0) }
            runner.teachers = TeacherCache(directory: teacherCache)
            let report = try runner.run(progress: epochLine)
            if let model = runner.model { try outputs.write(model, test: data.test, rounding: recipe.precision.format) }
            if json { try Output.printJSON(report) } else { print(Self.table(report)) }
        } catch let error as ConfigError {
            throw InputFileError(file: candidatePath, reason: error.description)
        }
        return 0
    }

    /// A compressed candidate: what it scores and stores, the stages, then the training table.
    static func table(_ r: CompressionReport) -> String {
        var rows: [(String, String)] = [
            ("test accuracy", humanNumber(r.testAccuracy)),
            ("test loss", humanNumber(r.testLoss)),
            ("stored KiB", humanNumber(r.footprint.bytes / 1024)),
            ("size ratio", humanNumber(r.sizeRatio)),
            ("parameters", humanNumber(Double(r.footprint.parameters))),
            ("non-zero parameters", humanNumber(Double(r.footprint.nonzeroParameters))),
            ("flops per sample", humanNumber(r.flopsPerSample)),
            ("inference", r.inference),
            ("test-set seconds", humanNumber(r.inferenceSeconds)),
        ]
        if let f = r.floatInferenceSeconds { rows.append(("float test-set seconds", humanNumber(f))) }
        if let s = r.lossScale { rows += [("loss scale", humanNumber(Double(s))), ("skipped steps", String(r.skippedSteps))] }
        let width = rows.map(\.0.count).max() ?? 0
        var lines = rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }
        lines += ["", "stage             test_acc  epochs  seconds"]
        for s in r.stages {
            lines.append([s.name.padding(toLength: 16, withPad: " ", startingAt: 0), humanNumber(s.testAccuracy).padding(toLength: 8, withPad: " ", startingAt: 0),
                          String(s.epochs).padding(toLength: 6, withPad: " ", startingAt: 0), humanNumber(s.seconds)].joined(separator: "  "))
        }
        return lines.joined(separator: "\n") + "\n\ncandidate training\n" + table(r.training)
    }

    /// The report as aligned `metric  value` lines, then the learning curve.
    static func table(_ r: TrainingReport) -> String {
        var rows: [(String, String)] = [
            ("status", r.status.rawValue),
            ("test accuracy", humanNumber(r.testAccuracy)),
            ("test loss", humanNumber(r.testLoss)),
        ]
        if let v = r.validationAccuracy { rows.append(("validation accuracy", humanNumber(v))) }
        rows += [
            ("parameters", humanNumber(Double(r.parameters))),
            ("flops per sample", humanNumber(r.flopsPerSample)),
            ("seconds per epoch", humanNumber(r.secondsPerEpoch)),
            ("samples per second", humanNumber(r.samplesPerSecond)),
            ("peak memory MiB", humanNumber(r.peakBytes / 1_048_576)),
            ("steps", String(r.steps)),
            ("threads", String(r.threads)),
        ]
        let width = rows.map(\.0.count).max() ?? 0
        var lines = rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }
        lines.append("")
        lines.append("epoch  train_loss  train_acc  val_loss  val_acc  seconds")
        // A long run shows an even sample of at most 20 epochs, always ending with the last.
        var picked = Array(stride(from: 0, to: r.epochs.count, by: max(1, (r.epochs.count + 19) / 20)))
        if let last = r.epochs.indices.last, picked.last != last { picked.append(last) }
        let shown = picked.map { r.epochs[$0] }
        for e in shown {
            let cells = [String(e.epoch), humanNumber(e.trainLoss), humanNumber(e.trainAccuracy),
                         e.validationLoss.map(humanNumber) ?? "-", e.validationAccuracy.map(humanNumber) ?? "-", humanNumber(e.seconds)]
            lines.append(zip(cells, [5, 10, 9, 8, 7, 7]).map { $0.0.padding(toLength: $0.1, withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
        if shown.count < r.epochs.count { lines.append("(\(shown.count) of \(r.epochs.count) epochs shown; --json lists every one)") }
        return lines.joined(separator: "\n")
    }
}
