import Compression
import Engine
import Foundation
import Hardware
import Parallel
import Search
import Store

/// A study's chosen trial with everything the export formats are made from: the full document
/// the trial evaluated (its recipe) and, for a training job, its `TrainingSetup`.
public struct PickedTrial: Sendable {
    public var study: StudyRecord
    public var spec: StudySpec
    public var trial: TrialRecord
    /// How it was chosen: "trial 12", or the pick rule.
    public var choice: String
    /// What `autotune eval` (engine studies) or `autotune estimate` (meta studies) reruns; the
    /// candidate's parameters for benchmark and command studies.
    public var recipe: JSONValue
    /// The training job; nil for benchmark and command studies.
    public var setup: TrainingSetup?
    /// An engine trial's recipe, decoded and validated (what `recipe` holds as JSON); nil otherwise.
    public var engineRecipe: Recipe?

    /// The command that reruns the recipe saved at `path`, when there is one.
    public func rerunCommand(recipePath path: String) -> String? {
        switch spec.evaluator {
        case .engine: return "autotune eval \(shellQuoted(path))"
        case .meta:
            guard let s = setup, let cluster = recipe["cluster"], let hardware = cluster["hardware"]?.string,
                  let plan = recipe["parallelism"] else { return nil }
            var words = ["autotune", "estimate", shellQuoted(path), "--hardware", shellQuoted(hardware),
                         "--nodes", String(s.nodes), "--gpus-per-node", String(s.gpusPerNode), "--global-batch", String(s.globalBatch)]
            for (key, flag) in [("dp", "--dp"), ("tp", "--tp"), ("pp", "--pp"), ("zero", "--zero"), ("micro_batch", "--micro-batch"),
                                ("grad_accum", "--grad-accum"), ("checkpointing", "--checkpointing"), ("schedule", "--schedule")] {
                guard let v = plan[key] else { continue }
                words += [flag, v.string ?? v.compactText]
            }
            if plan["sequence_parallel"] == .bool(true) { words.append("--sequence-parallel") }
            if plan["offload"] == .bool(true) { words.append("--offload") }
            if let p = recipe["precision"]?.string { words += ["--precision", p] }
            return words.joined(separator: " ")
        case .benchmark, .command: return nil
        }
    }
}

/// Reading a study out of a store and choosing the trial to export.
public enum ExportSource {
    /// The study called `name`, its spec (re-read from the space text stored with it) and its
    /// trials.
    public static func load(_ storage: StudyStorage, study name: String) throws -> (StudyRecord, StudySpec, [TrialRecord]) {
        guard let study = try storage.study(named: name) else {
            let names = try storage.studies().map(\.study.name)
            var reason = "no study '\(name)'" + (names.isEmpty ? " (the store holds no studies yet)" : " (studies: \(names.joined(separator: ", ")))")
            if let near = closestMatch(to: name, among: names) { reason += ". Did you mean '\(near)'?" }
            throw ReportError(reason)
        }
        let spec: StudySpec
        do { spec = try SpaceFile.parse(Data(study.space.utf8), file: "study '\(name)'") } catch let e as InputFileError {
            throw ReportError("the stored space of study '\(name)' no longer parses: \(e.reason)")
        }
        return (study, spec, try storage.trials(study: study.id, finishedAfter: nil))
    }

    /// The trial numbered `number`, or else the one `rule` picks (the knee by default), with its
    /// recipe and training setup.
    public static func pick(_ storage: StudyStorage, study name: String, trial number: Int?, rule: PickRule?) throws -> PickedTrial {
        let (study, spec, trials) = try load(storage, study: name)
        let trial: TrialRecord, choice: String
        if let number {
            trial = try TrialPicker.trial(number, in: trials, study: name)
            choice = "trial \(number)"
        } else {
            let rule = rule ?? .knee
            trial = try TrialPicker.pick(rule, trials: trials, objectives: StudyObjectives(objectives: spec.objectives, constraints: spec.constraints),
                                         study: name)
            choice = rule.text
        }
        return try picked(trial, study: study, spec: spec, choice: choice)
    }

    /// The recipe and setup of `trial`: its stored parameters put back into the study's space.
    public static func picked(_ trial: TrialRecord, study: StudyRecord, spec: StudySpec, choice: String) throws -> PickedTrial {
        let candidate: JSONValue
        do { candidate = spec.space.materialize(try spec.space.configuration(from: trial.parameters)) } catch let e as EvaluationError {
            throw ReportError("trial \(trial.number) of study '\(study.name)': \(e.reason)")
        }
        var out = PickedTrial(study: study, spec: spec, trial: trial, choice: choice, recipe: candidate, setup: nil)
        func fail(_ reason: String) -> ReportError { ReportError("trial \(trial.number) of study '\(study.name)': \(reason)") }
        switch spec.evaluator {
        case .engine(let data, let epochs):
            let document = try withEvaluationErrors(fail) { try EngineEvaluator(data: data, epochs: epochs).candidateDocument(candidate) }
            let recipe: Recipe
            do {
                recipe = try decodeJSONConfig(Recipe.self, from: Data(document.compactText.utf8), file: "recipe")
                try recipe.validate()
            } catch let e as InputFileError { throw fail("its recipe does not decode: \(e.reason)") }
            catch let e as ConfigError { throw fail("its recipe does not validate: \(e.description)") }
            out.recipe = document
            out.engineRecipe = recipe
            out.setup = TrainingSetup(engine: recipe, trainSamples: trainingSamples(recipe.candidate.data))
        case .meta(let model, let hardware, let nodes, let perNode, let globalBatch):
            let gpt: GPTSpec, cluster: Cluster
            do {
                gpt = try SpaceFile.metaModel(model)
                cluster = try Cluster(profile: try ProfileLibrary.profile(named: hardware), nodes: nodes, devicesPerNode: perNode)
            } catch let e as CustomStringConvertible { throw fail("cannot rebuild its cluster: \(e.description)") }
            var plan = try withEvaluationErrors(fail) {
                try MetaEvaluator(model: gpt, cluster: cluster, globalBatch: globalBatch).plan(candidate)
            }
            do { plan.gradientAccumulation = try plan.validate(gpt, devices: cluster.devices, globalBatch: globalBatch) }
            catch let e as PlanError { throw fail("its plan does not fit: \(e.description)") }
            out.recipe = metaRecipe(model: model, hardware: hardware, cluster: cluster, globalBatch: globalBatch, plan: plan)
            out.setup = TrainingSetup(meta: plan, nodes: cluster.nodes, gpusPerNode: cluster.devicesPerNode, globalBatch: globalBatch, layers: gpt.layers)
        case .benchmark, .command:
            break
        }
        return out
    }

    /// A meta trial's recipe: the model, the cluster, the global batch and the full plan (every
    /// derived value written out), as `autotune estimate MODEL.json` reads it.
    static func metaRecipe(model: JSONValue, hardware: String, cluster: Cluster, globalBatch: Int, plan: ParallelPlan) -> JSONValue {
        func int(_ v: Int) -> JSONValue { .number(Double(v)) }
        var parallelism: [(String, JSONValue)] = [
            ("dp", int(plan.dp)), ("tp", int(plan.tp)), ("pp", int(plan.pp)), ("zero", int(plan.zero)),
            ("micro_batch", int(plan.microBatch)),
        ]
        if let m = plan.gradientAccumulation { parallelism.append(("grad_accum", int(m))) }
        parallelism += [("checkpointing", .string(plan.checkpointing.rawValue)), ("sequence_parallel", .bool(plan.sequenceParallel)),
                        ("offload", .bool(plan.offload)), ("schedule", .string(plan.schedule.rawValue))]
        return .object([
            ("architecture", model),
            ("cluster", .object([("hardware", .string(hardware)), ("nodes", int(cluster.nodes)), ("gpus_per_node", int(cluster.devicesPerNode))])),
            ("global_batch", int(globalBatch)),
            ("parallelism", .object(parallelism)),
            ("precision", .string(plan.precision.rawValue)),
        ])
    }

    /// Training samples after the validation split, where the data set's size is known without
    /// reading it: Fashion-MNIST's 60,000 training images (Xiao et al. 2017), or the synthetic
    /// generators' samples less the fifth held out for testing. Nil for CSV files.
    static func trainingSamples(_ d: DataConfig) -> Int? {
        var n: Int
        switch d.dataset {
        case .fashionMNIST: n = 60_000
        case .csv: return nil
        case .blobs, .spirals, .markov:
            let total = d.samples ?? 1000
            n = total - min(total, Int((Double(total) * 0.2).rounded()))
        }
        if let subset = d.trainSubset { n = min(n, subset) }
        return n - min(n, Int((Double(n) * d.validationFraction).rounded()))
    }

    private static func withEvaluationErrors<T>(_ fail: (String) -> ReportError, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as EvaluationError { throw fail(e.reason) }
    }
}
