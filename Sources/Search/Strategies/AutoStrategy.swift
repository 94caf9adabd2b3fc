/// The strategy `"strategy": "auto"` stands for: a fixed rule by the kind of space, the number of
/// objectives and the trial budget, so a study that names no strategy gets a sensible one.
///
/// 1. A finite space with no more candidates than the budget: `grid` (every candidate once).
/// 2. One objective, a space of continuous dimensions only, and a budget above
///    `continuousModelBudget` up to `modelBudget`: `rl`, whose Gaussian policy adapts its step
///    size per dimension as an evolution strategy does. On the search benchmark's `hpo` suite it
///    had the best mean rank of every strategy on the continuous `bbob` functions at 300 trials,
///    where TPE ranked fifth, while TPE led at 50 and 100 trials and on HPOBench's grids of levels.
/// 3. One objective and a budget of at most `modelBudget` trials, or several objectives and at
///    most `multiObjectiveModelBudget`: `tpe` (MOTPE for several). Model-based search is what
///    pays at small budgets; on the `hpo` suite TPE had the best mean rank of autotune's
///    strategies at 50 and 100 trials, and MOTPE stayed ahead of NSGA-II on two objectives at
///    300 (3.5 against 4.0), though Optuna's TPE was ahead of both there.
/// 4. A larger budget, or none (a study bounded by time only): `evolution` for one objective,
///    `nsga2` for several — cheap per trial and steady over thousands of trials.
///
///     AutoStrategy.choose(space: .unitCube(5), objectives: 1, budget: 100).name   // "tpe"
///     AutoStrategy.choose(space: .unitCube(5), objectives: 1, budget: 300).name    // "rl"
///     AutoStrategy.choose(space: .unitCube(30), objectives: 2, budget: 300).name   // "nsga2"
public enum AutoStrategy {
    /// The largest trial budget for which the model-based strategy is chosen.
    public static let modelBudget = 1_000
    /// The largest trial budget for which MOTPE is chosen with several objectives.
    public static let multiObjectiveModelBudget = 300
    /// The largest trial budget for which TPE is chosen over `rl` in a continuous space.
    public static let continuousModelBudget = 200

    /// The strategy chosen and the reason, in a line fit to print beside the study.
    public static func choose(space: SearchSpace, objectives: Int, budget: Int?) -> (name: String, reason: String) {
        if let budget, let count = space.grid(limit: budget)?.count, count >= 1 {
            return ("grid", "a finite space of \(count) candidates within the budget of \(budget) trials")
        }
        let objectiveText = objectives == 1 ? "one objective" : "\(objectives) objectives"
        let limit = objectives == 1 ? modelBudget : multiObjectiveModelBudget
        let continuous = space.dimensions.allSatisfy { !$0.domain.isCategorical && $0.domain.cardinality == nil }
        if objectives == 1, continuous, let budget, budget > continuousModelBudget, budget <= limit {
            return ("rl", "one objective, continuous dimensions only, a budget of \(budget) in \(continuousModelBudget + 1)...\(limit) trials")
        }
        if let budget, budget <= limit {
            return ("tpe", "\(objectiveText), a budget of \(budget) ≤ \(limit) trials")
        }
        let budgetText = budget.map { "a budget of \($0) > \(limit) trials" } ?? "no trial budget"
        return (objectives == 1 ? "evolution" : "nsga2", "\(objectiveText), \(budgetText)")
    }

    /// `spec` with `auto` replaced by the strategy it stands for (any other spec unchanged), for a
    /// study to store and print what really runs.
    public static func resolve(_ spec: StrategySpec, space: SearchSpace, objectives: Int, budget: Int?) -> StrategySpec {
        guard spec.name == "auto" else { return spec }
        return StrategySpec(name: choose(space: space, objectives: objectives, budget: budget).name)
    }
}
