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
            setup = TrainingSetup(meta: m.plan, nodes: m.evaluator.cluster.nodes, gpusPerNode: m.evaluator.cluster.devicesPerNode,
                                  globalBatch: m.evaluator.globalBatch, layers: m.evaluator.model.layers)
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
        if let number {
            return try PickedTrial(study: study, trial: try TrialPicker.trial(number, in: trials, study: study.name), choice: "trial \(number)",
                                   devices: devices)
        }
        let rule = rule ?? .knee
        let trial = try TrialPicker.pick(rule, trials: trials, objectives: study.objectives, study: study.name)
        return try PickedTrial(study: study, trial: trial, choice: rule.text, devices: devices)
    }
}
