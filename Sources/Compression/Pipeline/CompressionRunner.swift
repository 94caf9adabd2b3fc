import Engine
import Foundation

/// One stage of a compression run: what the model scored after it.
public struct StageRecord: Codable, Equatable, Sendable {
    public var name: String
    public var testAccuracy: Double
    public var epochs: Int
    public var seconds: Double
}

/// What training, compressing and measuring a recipe gave.
public struct CompressionReport: Codable, Equatable, Sendable {
    /// The candidate's own training run (before the post-training steps).
    public var training: TrainingReport
    public var stages: [StageRecord]
    public var testAccuracy: Double
    public var testLoss: Double
    public var footprint: ModelFootprint
    /// Bytes of the candidate's own model (before any step) as dense FP32: what `sizeRatio`
    /// compares with.
    public var uncompressedBytes: Double
    /// Stored bytes over the uncompressed model's.
    public var sizeRatio: Double { footprint.bytes / max(uncompressedBytes, 1) }
    /// FLOPs of one sample's forward pass through the final model, by dtype in the trace.
    public var flopsPerSample: Double
    /// One sample's forward pass through the final model: what the cost model reads.
    public var inferenceTrace: TraceSummary
    /// How the final model computes: fp32, bf16, fp16, tf32, int8, int4..., or "simulated int4"
    /// where the engine has no integer kernel for the scheme.
    public var inference: String
    /// Optimizer steps skipped by the loss scaler, and its last scale.
    public var skippedSteps: Int
    public var lossScale: Float?
    /// Seconds to run the test set through the final model, and through the float model before
    /// quantization (when a quantize step ran).
    public var inferenceSeconds: Double
    public var floatInferenceSeconds: Double?
}

/// Trains a recipe's candidate with its precision and training-time compression, applies the
/// post-training steps in order (each with its fine-tune), and measures the result.
///
///     let report = try CompressionRunner(recipe: recipe).run()
///     print(report.testAccuracy, report.footprint.bytes)
public final class CompressionRunner {
    public let recipe: Recipe
    /// Loads the data (a search replaces it with a cache).
    public var loadData: (DataConfig, UInt64) throws -> DataConfig.Splits = { try $0.load(seed: $1) }
    public var teachers = TeacherCache()
    /// Called once the candidate's model is built.
    public var onModelBuilt: ((Model) -> Void)?
    /// Progress lines of the stages after training (teachers, fine-tunes, calibration).
    public var log: ((String) -> Void)?
    /// The final model of the last `run` (compressed; integer layers after a quantize step).
    public private(set) var model: Model?
    /// The seed `model`'s layers were built with: the candidate's, or the last self-distillation
    /// round's.
    public private(set) var modelSeed: UInt64 = 0
    /// What the final model's activations are rounded to at every layer boundary, as the engine
    /// ran it: the recipe's 16-bit (or TF32, FP8) format while its rounding hook is attached,
    /// FP32 once it is not (after an integer quantize step, or for an FP32 recipe).
    public var activationRounding: FloatFormat {
        guard let model, model.context.boundaryObserver != nil else { return .fp32 }
        return recipe.precision.format
    }

    public init(recipe: Recipe) { self.recipe = recipe }

    /// - Parameters:
    ///   - progress: every epoch of the candidate's training.
    ///   - shouldStop: asked after every epoch of the candidate's training (early stopping); a
    ///     stopped run still goes through its compression steps.
    ///   - baseline: a model already trained from this recipe's candidate, and its report: the
    ///     post-training steps start from a copy of it instead of training again (several
    ///     techniques compared on one baseline). Only for recipes whose precision is FP32 and
    ///     that have no training-time step (distill, l1).
    public func run(from baseline: (state: ModelState, report: TrainingReport)? = nil, progress: ((EpochRecord) -> Void)? = nil,
                    shouldStop: ((EpochRecord) -> Bool)? = nil) throws -> CompressionReport {
        try recipe.validate()
        if baseline != nil {
            precondition(recipe.precision == .fp32 && !recipe.compression.contains { $0.method == "distill" || $0.method == "l1" },
                         "a trained baseline only starts post-training steps")
        }
        let candidate = recipe.candidate
        modelSeed = candidate.training.seed
        let splits = try loadData(candidate.data, candidate.training.seed)
        try Preflight.check(recipe, sampleShape: splits.train.sampleShape, classes: splits.train.classCount)
        let working = WorkingWeights(format: recipe.precision.format, scaler: recipe.precision.makeScaler())
        var encodings = WeightEncodings()
        encodings.defaultBits = Int(recipe.precision.format.storageBytes) * 8
        var hooks: [TrainingHook] = [working]
        for case .l1(let l) in recipe.compression { working.l1 = l.lambda }
        var rounds = 1, distill: DistillStep?
        var student: Model?       // built here when feature distillation taps its classifier
        for case .distill(let d) in recipe.compression {
            distill = d
            rounds = d.rounds
            if !d.teachers.isEmpty {
                let models = try d.teachers.map { try teachers.teacher($0, student: candidate, splits: splits, progress: log) }
                let hook = DistillationHook(teachers: models, temperature: d.temperature, alpha: d.alpha)
                if d.featureWeight > 0, baseline == nil {
                    let (tapped, match) = try Self.featureMatch(candidate, teacher: models[0], splits: splits, weight: d.featureWeight)
                    student = tapped
                    hook.feature = match
                }
                hooks.append(hook)
            }
        }

        var stages: [StageRecord] = []
        func train(_ c: Candidate, model: Model?, hooks: [TrainingHook], top: Bool) throws -> (TrainingReport, Model) {
            let trainer = Trainer(candidate: c)
            trainer.loadData = { _, _ in splits }
            trainer.hooks = hooks
            if top { trainer.onModelBuilt = onModelBuilt }
            let report = try trainer.run(model: model, progress: top ? progress : { [log] e in log?("epoch \(e.epoch): loss \(e.trainLoss)") },
                                         shouldStop: top ? shouldStop : nil)
            return (report, trainer.model!)
        }

        var start = Date()
        var report: TrainingReport, model: Model
        if let baseline {
            (report, model) = (baseline.report, try baseline.state.model())
            try working.prepare(model, training: splits.train)
        } else {
            (report, model) = try train(candidate, model: student, hooks: hooks, top: true)
            if student != nil {
                // Feature distillation ends with the candidate's training: take the tap out.
                for case let h as DistillationHook in hooks { h.feature = nil }
                model = try NetworkSurgery.remodel(model, network: NetworkSurgery.rebuild(model.network) { ($0 as? FeatureTap)?.inner })
            }
        }
        let base = report
        stages.append(StageRecord(name: "train", testAccuracy: report.testAccuracy, epochs: report.epochs.count, seconds: -start.timeIntervalSinceNow))
        if report.status == .diverged {
            return finish(model, report: report, base: base, stages: stages, working: working, encodings: encodings,
                          parameters: model.store.parameters)
        }
        // Self-distillation: each round's student teaches a fresh one of the same architecture.
        if let d = distill, rounds > 1 {
            for round in 2...rounds {
                start = Date()
                var c = candidate
                c.training.seed = candidate.training.seed &+ UInt64(round - 1)
                let roundHook = DistillationHook(teachers: [model], temperature: d.temperature, alpha: d.alpha)
                working.detach(from: model)
                (report, model) = try train(c, model: nil, hooks: [working, roundHook], top: false)
                modelSeed = c.training.seed
                stages.append(StageRecord(name: "distill round \(round)", testAccuracy: report.testAccuracy, epochs: report.epochs.count,
                                          seconds: -start.timeIntervalSinceNow))
            }
        }

        let steps = CompressionStages(recipe: recipe, splits: splits, working: working, hooks: hooks, log: log) { c, m, h, top in
            try train(c, model: m, hooks: h, top: top)
        }
        steps.last = report
        var floatSeconds: Double?
        var inference = recipe.precision.format.rawValue
        for step in recipe.compression {
            start = Date()
            switch step {
            case .l1, .distill:
                continue
            case .prune(let p):
                (report, model) = try steps.prune(model, p)
            case .pruneChannels(let c):
                (report, model) = try steps.pruneChannels(model, c)
                modelSeed = candidate.training.seed
            case .lowRank(let l):
                (report, model) = try steps.lowRank(model, l)
            case .share(let s):
                (report, model) = try steps.share(model, s, encodings: &encodings)
            case .quantize(let q):
                let result = try steps.quantize(model, q, encodings: &encodings)
                model = result.model
                report.testAccuracy = result.accuracy
                report.testLoss = result.loss
                report.testSeconds = result.seconds
                floatSeconds = result.floatSeconds
                inference = result.inference
            }
            stages.append(StageRecord(name: step.method, testAccuracy: report.testAccuracy, epochs: step.epochs, seconds: -start.timeIntervalSinceNow))
        }
        var out = finish(model, report: report, base: base, stages: stages, working: working, encodings: encodings,
                         parameters: steps.footprintParameters(model))
        out.floatInferenceSeconds = floatSeconds
        out.inference = inference
        return out
    }

    /// The student with its classifier tapped, and the projection from its last hidden width to
    /// the teacher's.
    private static func featureMatch(_ candidate: Candidate, teacher: Model, splits: DataConfig.Splits,
                                     weight: Float) throws -> (Model, FeatureMatch) {
        let train = splits.train
        let plain = try Model(spec: candidate.architecture, inputShape: train.sampleShape, classes: train.classCount,
                              context: ExecutionContext(), seed: candidate.training.seed)
        guard let classifier = plain.network.layers.last as? Linear, let teacherHead = teacher.network.layers.last as? Linear else {
            throw ConfigError(keyPath: "compression", reason: "feature distillation needs a Linear classifier in the student and the teacher")
        }
        let tap = FeatureTap(classifier)
        let tapped = try NetworkSurgery.remodel(plain, network: NetworkSurgery.rebuild(plain.network) { $0 === classifier ? tap : nil })
        return (tapped, FeatureMatch(tap: tap, studentWidth: classifier.inFeatures, teacherWidth: teacherHead.inFeatures,
                                     weight: weight, seed: candidate.training.seed))
    }

    private func finish(_ model: Model, report: TrainingReport, base: TrainingReport, stages: [StageRecord],
                        working: WorkingWeights, encodings: WeightEncodings, parameters: [Parameter]) -> CompressionReport {
        self.model = model
        let trace = model.context.measure {
            model.context.phase = .forward
            _ = model.forward(Tensor(shape: [1] + model.inputShape, context: model.context), training: false)
            model.context.phase = .other
        }
        return CompressionReport(training: base, stages: stages, testAccuracy: report.testAccuracy, testLoss: report.testLoss,
                                 footprint: encodings.footprint(parameters), uncompressedBytes: 4 * Double(base.parameters),
                                 flopsPerSample: trace.flops, inferenceTrace: trace, inference: recipe.precision.format.rawValue,
                                 skippedSteps: working.skippedSteps, lossScale: working.scaler?.scale,
                                 inferenceSeconds: report.testSeconds, floatInferenceSeconds: nil)
    }
}
