import Compression
import Engine
import Foundation
import Search

/// An engine trial's model as ONNX: the final model the study kept (`PickedTrial.keptModel()`),
/// exported by `ONNXExporter` with no training. When the study kept none for the trial (it left
/// the front, keeping is off, the file is unreadable), its recipe (architecture, training with
/// its seed, data, precision and compression) is trained again — deterministically, as
/// `autotune eval` reruns it — and `notice` says so first.
enum ONNXTrialExport {
    /// The ONNX bytes of `picked`'s model and a line saying where the model came from (for a
    /// rerun, its test accuracy beside the stored one).
    /// - Throws: `ReportError` for a study that trains nothing (benchmark, command, meta) or a
    ///   TF32 recipe (ONNX has no type that rounds activations as TF32 does).
    static func export(_ picked: PickedTrial, progress: ((String) -> Void)?, notice: ((String) -> Void)?) throws -> (model: Data, summary: String) {
        let trial = "trial \(picked.trial.number) of study '\(picked.study.name)'"
        guard let recipe = picked.engineRecipe else {
            throw ReportError("onnx export needs a model the engine trained: \(trial) comes from a \(picked.spec.evaluator.name) evaluator")
        }
        guard ONNXExporter.canExport(recipe) else {
            throw ReportError("\(trial) rounds activations to TF32, which no ONNX type can do as the engine does")
        }
        do {
            let kept = try picked.keptModel()
            let bytes = try ONNXExporter.export(kept.model, activationRounding: kept.activationRounding)
            return (Data(bytes), "\(trial) exported from its kept weights (no training)")
        } catch let missing as WeightsNotKept {
            notice?("trial \(picked.trial.number)'s weights are not kept (\(missing.reason)): training it again from its recipe")
        }
        return try train(picked, recipe: recipe, progress: progress)
    }

    /// The recipe trained again and its final model exported.
    private static func train(_ picked: PickedTrial, recipe: Recipe, progress: ((String) -> Void)?) throws -> (model: Data, summary: String) {
        let trial = "trial \(picked.trial.number) of study '\(picked.study.name)'"
        let runner = CompressionRunner(recipe: recipe)
        runner.log = { progress?($0) }
        let report = try runner.run(progress: { e in
            progress?("retraining \(trial): epoch \(e.epoch), train loss \(String(format: "%.4g", e.trainLoss))")
        })
        guard let model = runner.model else { throw ReportError("training \(trial) again gave no model", kind: .tool) }
        let bytes = try ONNXExporter.export(model, activationRounding: runner.activationRounding)
        let stored = picked.trial.metrics["accuracy"].map { String(format: "%.4f", $0) } ?? "none"
        return (Data(bytes), "retrained \(trial) from its recipe: test accuracy \(String(format: "%.4f", report.testAccuracy)) (the study stored \(stored))")
    }
}
