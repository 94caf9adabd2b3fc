import Compression
import Engine
import Foundation
import Hardware

/// Trains each candidate on the built-in engine and measures it.
///
/// The candidate's `architecture` and `training` sections come from the search; `data` comes from
/// the evaluator's settings, and `epochs` caps training (the resource early stopping spends).
/// Metrics: `accuracy` and `loss` on the test split, `validation_accuracy`, `params`, `flops`
/// (forward FLOPs per sample), `training_flops`, `peak_mib`, `epoch_seconds`, `train_seconds`,
/// `samples_per_second`. The learning curve reports, per epoch, `accuracy` and `loss` on the
/// validation split when the data has one (`validation_fraction`), on the training batches
/// otherwise — never the test split, so early stopping does not select on it — plus `params` and
/// `flops`, so every objective has a value at every rung.
///
/// Candidates with `precision` and `compression` sections are compressed after (or while) they
/// train: `accuracy`, `loss`, `params` and `flops` are the final model's. Every candidate also
/// reports `stored_kib` (bytes as stored), `size_ratio` (over its uncompressed model as dense
/// FP32), `nonzero_params`, `sparsity`, `skipped_steps` (loss scaling) and `inference_seconds`
/// (the final model on the test split).
///
/// For each hardware profile in `hardware`, the final model's forward pass is traced (batch 1 and
/// batch 64) and costed on that profile: `latency_ms@<profile>`, `throughput@<profile>`
/// (samples/s at batch 64), `memory_mb@<profile>` and `energy_mj@<profile>` (see `InferenceCost`).
/// On `host`, the machine the study runs on, latency and throughput are measured instead: the
/// median wall-clock time of the final model's forward pass at batch 1 and batch 64
/// (`Model.medianLatency`), so a study here optimises real speed, int8 kernels included.
///
/// For a study that keeps its front members' weights (`keepsModels`), each result carries its
/// final model (`EvaluationResult.finalModel`), which `Study.finish` writes when the trial joins
/// the front.
public final class EngineEvaluator: Evaluator {
    public let data: JSONValue
    public let epochs: Int?
    /// Threads for each training run (nil: all cores).
    public let threads: Int?
    /// Profiles the final model is costed on, by the name objectives use after `@`.
    public let hardware: [(name: String, profile: HardwareProfile)]
    /// Whether results carry their final model (`EvaluationResult.finalModel`), for a study that
    /// keeps its front members' weights.
    public let keepsModels: Bool
    /// The batch `throughput@<profile>` is measured at.
    public static let throughputBatch = 64

    /// The last data set loaded, by its config and seed: trials that share them (most of a study)
    /// skip reading and decoding the files again. One entry, so memory stays one data set's.
    private var cached: (config: DataConfig, seed: UInt64, splits: DataConfig.Splits)?
    /// Teachers trained for distillation, shared by this evaluator's trials.
    private let teachers = TeacherCache()

    public init(data: JSONValue, epochs: Int?, threads: Int? = nil, hardware: [(name: String, profile: HardwareProfile)] = [],
                keepsModels: Bool = false) {
        self.data = data; self.epochs = epochs; self.threads = threads; self.hardware = hardware; self.keepsModels = keepsModels
    }

    private func load(_ config: DataConfig, seed: UInt64) throws -> DataConfig.Splits {
        if let c = cached, c.config == config, c.seed == seed { return c.splits }
        cached = nil
        let splits = try config.load(seed: seed)
        cached = (config, seed, splits)
        return splits
    }

    /// The candidate document the engine trains: the search's sections plus the data, with the
    /// epoch cap applied.
    static func candidateDocument(_ candidate: JSONValue, data: JSONValue, epochs: Int?) throws -> JSONValue {
        guard case .object(let members) = candidate else { throw EvaluationError("candidate is not an object") }
        var out: [JSONValue.Member] = []
        for m in members {
            switch m.key {
            case "architecture":
                out.append(m)
            case "training":
                out.append(JSONValue.Member("training", cappedTraining(m.value, epochs: epochs)))
            case "precision", "compression":
                if !isTrivial(m.key, m.value) { out.append(m) }
            case "parallelism":
                if !isTrivial(m.key, m.value) { throw EvaluationError(parallelismReason) }
            default:
                throw EvaluationError("\(m.key): not a section the engine evaluator knows")
            }
        }
        if !out.contains(where: { $0.key == "training" }) {
            out.append(.init("training", cappedTraining(.object([JSONValue.Member]()), epochs: epochs)))
        }
        out.append(.init("data", data))
        return .object(out)
    }

    /// Why a parallelism section is refused.
    public static let parallelismReason = "parallelism: the engine evaluator trains on this machine and applies no parallel plan "
        + "(cost plans with the meta evaluator, or run your own training with the command evaluator)"

    /// The typed recipe a candidate trains as: its document decoded (no JSON text in between)
    /// and validated. Failures are `EvaluationError`s whose reason starts with the key path.
    public static func recipe(_ candidate: JSONValue, data: JSONValue, epochs: Int?) throws -> (document: JSONValue, recipe: Recipe) {
        let document = try candidateDocument(candidate, data: data, epochs: epochs)
        do {
            let recipe = try document.decoded(as: Recipe.self)
            try recipe.validate()
            return (document, recipe)
        } catch let e as ConfigError {
            throw EvaluationError(e.description)
        } catch let e as DecodingError {
            throw EvaluationError(describeDecodingError(e))
        }
    }

    public func evaluate(_ candidate: JSONValue, parameters: [(name: String, value: JSONValue)],
                         report: (Int, [String: Double]) -> Bool) throws -> EvaluationResult {
        var recipe = try Self.recipe(candidate, data: data, epochs: epochs).recipe
        if let threads { recipe.candidate.training.threads = threads }
        return try evaluate(recipe, report: report)
    }

    /// Train and compress through the `CompressionRunner` (a recipe without steps trains exactly
    /// as the `Trainer` alone does).
    private func evaluate(_ recipe: Recipe, report: (Int, [String: Double]) -> Bool) throws -> EvaluationResult {
        let runner = CompressionRunner(recipe: recipe)
        runner.loadData = { [unowned self] config, seed in try self.load(config, seed: seed) }
        runner.teachers = teachers
        var params = 0.0, flops = 0.0
        runner.onModelBuilt = { model in
            params = Double(model.parameterCount)
            flops = (try? Model.forwardFLOPsPerSample(spec: model.spec, inputShape: model.inputShape, classes: model.classes)) ?? 0
        }
        let result: CompressionReport
        do {
            result = try withoutActuallyEscaping(report) { report in
                try runner.run(shouldStop: { epoch in
                    let metrics = ["accuracy": epoch.validationAccuracy ?? epoch.trainAccuracy,
                                   "loss": epoch.validationLoss ?? epoch.trainLoss,
                                   "params": params, "flops": flops]
                    return !report(epoch.epoch, metrics)
                })
            }
        } catch let e as CustomStringConvertible {
            throw EvaluationError(e.description)
        }
        let training = result.training
        if training.status == .diverged {
            throw EvaluationError("training diverged (loss became NaN or infinite) at step \(training.steps)")
        }
        let f = result.footprint
        var metrics: [String: Double] = [
            "accuracy": result.testAccuracy, "loss": result.testLoss,
            "params": Double(f.parameters), "nonzero_params": Double(f.nonzeroParameters),
            "sparsity": f.parameters > 0 ? 1 - Double(f.nonzeroParameters) / Double(f.parameters) : 0,
            "flops": result.flopsPerSample, "stored_kib": f.bytes / 1024, "size_ratio": result.sizeRatio,
            "training_flops": training.trainingFLOPs, "peak_mib": training.peakBytes / 1_048_576,
            "epoch_seconds": training.secondsPerEpoch, "train_seconds": result.stages.map(\.seconds).reduce(0, +),
            "samples_per_second": training.samplesPerSecond, "skipped_steps": Double(result.skippedSteps),
            "inference_seconds": result.inferenceSeconds,
        ]
        if let v = training.validationAccuracy { metrics["validation_accuracy"] = v }
        if !hardware.isEmpty, let model = runner.model {
            let batch1 = forwardEvents(model, batch: 1), batched = forwardEvents(model, batch: Self.throughputBatch)
            for (name, profile) in hardware {
                let cost = InferenceCost(batch1: batch1, batched: batched, batch: Self.throughputBatch, weightBytes: f.bytes, on: profile)
                metrics.merge(cost.metrics(profile: name)) { $1 }
                if name.lowercased() == ProfileLibrary.hostName {
                    metrics["latency_ms@\(name)"] = model.medianLatency(batch: 1)
                    metrics["throughput@\(name)"] = Double(Self.throughputBatch) * 1000
                        / max(model.medianLatency(batch: Self.throughputBatch), 1e-9)
                }
            }
        }
        return EvaluationResult(metrics: metrics, stoppedEarly: training.status == .stopped, finalModel: keepsModels ? runner.finalModel : nil)
    }

    /// The operations of one inference forward pass of `model` at `batch` samples.
    private func forwardEvents(_ model: Model, batch: Int) -> [OpEvent] {
        let ctx = model.context
        let x = Tensor(shape: [batch] + model.inputShape, context: ctx)
        let phase = ctx.phase
        defer { ctx.phase = phase }
        return ctx.measureEvents { ctx.phase = .forward; _ = model.forward(x, training: false) }.events
    }

    private static func cappedTraining(_ training: JSONValue, epochs: Int?) -> JSONValue {
        guard let epochs, case .object(var members) = training else { return training }
        if let k = members.firstIndex(where: { $0.key == "epochs" }) {
            if let e = members[k].value.number, e > Double(epochs) { members[k].value = .number(Double(epochs)) }
        } else if !members.contains(where: { $0.key == "steps" }) {
            members.append(.init("epochs", .number(Double(epochs))))
        }
        return .object(members)
    }

    /// Settings the engine already honours: absent, empty, or full precision.
    private static func isTrivial(_ section: String, _ value: JSONValue) -> Bool {
        switch value {
        case .null: return true
        case .object(let m) where m.isEmpty: return true
        case .array(let a) where a.isEmpty: return true
        case .string(let s) where section == "precision": return s == "fp32"
        case .object(let m) where section == "precision":
            return m.allSatisfy { $0.value == .string("fp32") }
        default: return false
        }
    }
}
