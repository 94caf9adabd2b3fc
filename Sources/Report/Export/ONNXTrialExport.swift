import Compression
import Engine
import Foundation
import Search

/// An engine trial's model as ONNX. A study keeps each trial's parameters and metrics, not its
/// weights, so the trial's recipe (architecture, training with its seed, data, precision and
/// compression) is trained again — deterministically, as `autotune eval` reruns it — and the final
/// model exported by `ONNXExporter`.
enum ONNXTrialExport {
    /// The ONNX bytes of `picked`'s model and a line comparing the rerun's test accuracy with the
    /// stored one.
    /// - Throws: `ReportError` for a study that trains nothing (benchmark, command, meta) or a
    ///   TF32 recipe (ONNX has no type that rounds activations as TF32 does).
    static func train(_ picked: PickedTrial, progress: ((String) -> Void)?) throws -> (model: Data, summary: String) {
        let trial = "trial \(picked.trial.number) of study '\(picked.study.name)'"
        guard let recipe = picked.engineRecipe else {
            throw ReportError("onnx export needs a model the engine trained: \(trial) comes from a \(picked.spec.evaluator.name) evaluator")
        }
        guard ONNXExporter.canExport(recipe) else {
            throw ReportError("\(trial) rounds activations to TF32, which no ONNX type can do as the engine does")
        }
        let runner = CompressionRunner(recipe: recipe)
        runner.log = { progress?($0) }
        let report = try runner.run(progress: { e in
            progress?("retraining \(trial): epoch \(e.epoch), train loss \(String(format: "%.4g", e.trainLoss))")
        })
        guard let model = runner.model else { throw ReportError("training \(trial) again gave no model", kind: .tool) }
        let rounding = model.context.boundaryObserver == nil ? FloatFormat.fp32 : recipe.precision.format
        let bytes = try ONNXExporter.export(model, activationRounding: rounding)
        let stored = picked.trial.metrics["accuracy"].map { String(format: "%.4f", $0) } ?? "none"
        return (Data(bytes), "retrained \(trial) from its recipe: test accuracy \(String(format: "%.4f", report.testAccuracy)) (the study stored \(stored))")
    }
}
