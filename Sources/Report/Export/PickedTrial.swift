import Compression
import Engine
import Foundation
import Hardware
import Parallel
import Search
import Store

/// A study's chosen trial with everything the export formats are made from: its typed recipe
/// (`Study.recipe(of:)`) and, for a training job, its `TrainingSetup`.
public struct PickedTrial {
    public var study: Study
    public var trial: TrialRecord
    /// How it was chosen: "trial 12", or the pick rule.
    public var choice: String
    public var recipe: TrialRecipe
    /// The training job; nil for benchmark and command studies.
    public var setup: TrainingSetup?
    /// Why the trial is not on the study's Pareto front, when it is not (nil for a front member).
    public var offFront: String?

    public var spec: StudySpec { study.spec }

    /// `trial` of `study`, with its recipe and training setup; an engine trial's job is split over
    /// `devices` data-parallel processes (see `TrainingSetup(engine:trainSamples:devices:)`).
    /// - Throws: `ReportError` when the trial has no recipe, or `devices` does not fit its job.
    public init(study: Study, trial: TrialRecord, choice: String, devices: Int = 1) throws {
        self.study = study; self.trial = trial; self.choice = choice
        do { recipe = try study.recipe(of: trial) } catch let e as StudyError { throw ReportError(e.reason) }
        switch recipe {
        case .engine(_, let r):
            setup = try TrainingSetup(engine: r, trainSamples: r.candidate.data.trainingSamples, devices: devices)
        case .meta(let m):
            guard devices == 1 else {
                throw ReportError("--devices is for engine trials: the plan of trial \(trial.number) of study '\(study.name)' already sets its \(m.evaluator.cluster.nodes * m.evaluator.cluster.devicesPerNode) devices")
            }
            let cluster = m.evaluator.cluster
            setup = TrainingSetup(meta: m.plan, model: m.evaluator.model, nodes: cluster.nodes, gpusPerNode: cluster.devicesPerNode,
                                  globalBatch: m.evaluator.globalBatch,
                                  flashAttention: m.plan.usesFlashAttention(stackDefault: cluster.profile.flashAttention))
        case .parameters:
            guard devices == 1 else {
                throw ReportError("--devices is for engine trials: study '\(study.name)' is a \(study.spec.evaluator.name) study with no training job")
            }
            setup = nil
        }
    }

    /// An engine trial's recipe, decoded and validated; nil for other evaluators.
    public var engineRecipe: Recipe? {
        if case .engine(_, let r) = recipe { return r }
        return nil
    }

    /// The trial's final model as the study kept it (`Study.keptModel(of:)`): no training. For
    /// every format that writes the model itself (ONNX; a script with its weights).
    /// - Throws: `WeightsNotKept` with the reason there is none (retrain it from its recipe).
    public func keptModel() throws -> TrainedModel {
        guard engineRecipe != nil else {
            throw WeightsNotKept("trial \(trial.number) comes from a \(spec.evaluator.name) evaluator, which trains no model here")
        }
        return try study.keptModel(of: trial)
    }

    /// The command that reruns the recipe saved at `path`, when there is one.
    public func rerunCommand(recipePath path: String) -> String? {
        switch recipe {
        case .engine: return "autotune eval \(shellQuoted(path))"
        case .meta(let m): return (["autotune"] + m.estimateArguments(recipePath: path)).map(shellQuoted).joined(separator: " ")
        case .parameters: return nil
        }
    }
}

/// Choosing the trial of a study to export.
public enum ExportSource {
    /// The trial numbered `number`, or else the one `rule` picks (the knee by default), with its
    /// recipe and training setup.
    /// `devices` splits an engine trial's job over that many data-parallel processes.
    public static func pick(_ study: Study, trial number: Int?, rule: PickRule?, devices: Int = 1) throws -> PickedTrial {
        let trials = try study.trials()
        var picked: PickedTrial
        if let number {
            picked = try PickedTrial(study: study, trial: try TrialPicker.trial(number, in: trials, study: study.name), choice: "trial \(number)",
                                 devices: devices)
        } else {
            let rule = rule ?? .knee
            let trial = try TrialPicker.pick(rule, trials: trials, objectives: study.objectives, study: study.name)
            picked = try PickedTrial(study: study, trial: trial, choice: rule.text, devices: devices)
        }
        picked.offFront = TrialPicker.offFront(picked.trial, trials: trials, objectives: study.objectives)
            .map { "trial \(picked.trial.number) is not on the Pareto front of study '\(study.name)': " + $0 }
        return picked
    }
}
