import Compression
import Engine
import Hardware
import Parallel

/// What one trial evaluated, typed, for everything that reruns or exports it (`eval`, `export`,
/// `report`): built by `Study.recipe(of:)` from the trial's stored parameters.
public enum TrialRecipe {
    /// An engine trial: the candidate document `autotune eval` reruns and its decoded recipe.
    case engine(document: JSONValue, recipe: Recipe)
    /// A meta trial: the plan with every derived value resolved, on the study's model and cluster.
    case meta(MetaRecipe)
    /// A benchmark or command trial: its candidate (the parameters in the space's shape).
    case parameters(JSONValue)

    /// The document a recipe file holds.
    public var document: JSONValue {
        switch self {
        case .engine(let document, _): return document
        case .meta(let m): return m.document
        case .parameters(let candidate): return candidate
        }
    }
}

/// A meta trial's training configuration: model, cluster, global batch and resolved plan.
public struct MetaRecipe {
    public var evaluator: MetaSpec
    /// The plan, its gradient accumulation derived from the global batch.
    public var plan: ParallelPlan

    public init(evaluator: MetaSpec, plan: ParallelPlan) { self.evaluator = evaluator; self.plan = plan }

    /// The recipe as `autotune estimate MODEL.json` reads it: the model, the cluster, the global
    /// batch and the full plan, every derived value written out.
    public var document: JSONValue {
        func int(_ v: Int) -> JSONValue { .number(Double(v)) }
        typealias Key = ParallelPlan.CodingKeys
        var parallelism: [(String, JSONValue)] = [
            (Key.dp.rawValue, int(plan.dp)), (Key.tp.rawValue, int(plan.tp)), (Key.pp.rawValue, int(plan.pp)),
            (Key.zero.rawValue, int(plan.zero)), (Key.microBatch.rawValue, int(plan.microBatch)),
        ]
        if let m = plan.gradientAccumulation { parallelism.append((Key.gradientAccumulation.rawValue, int(m))) }
        parallelism += [(Key.checkpointing.rawValue, .string(plan.checkpointing.rawValue)),
                        (Key.sequenceParallel.rawValue, .bool(plan.sequenceParallel)),
                        (Key.offload.rawValue, .bool(plan.offload)), (Key.schedule.rawValue, .string(plan.schedule.rawValue))]
        let c = evaluator.cluster
        return .object([
            ("architecture", evaluator.modelDocument),
            ("cluster", .object([("hardware", .string(evaluator.hardware)), ("nodes", int(c.nodes)), ("gpus_per_node", int(c.devicesPerNode))])),
            ("global_batch", int(evaluator.globalBatch)),
            ("parallelism", .object(parallelism)),
            ("precision", .string(plan.precision.rawValue)),
        ])
    }

    /// The `autotune estimate` words that price this recipe saved at `path` (unquoted).
    public func estimateArguments(recipePath path: String) -> [String] {
        let c = evaluator.cluster
        return ["estimate", path, "--hardware", evaluator.hardware, "--nodes", String(c.nodes), "--gpus-per-node", String(c.devicesPerNode),
                "--global-batch", String(evaluator.globalBatch)] + plan.estimateFlags
    }
}
