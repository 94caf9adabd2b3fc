import Engine

/// Builds the strategy a study names, reading its options from the `strategy` object.
///
///     let spec = StrategySpec(name: "nsga2", options: .object([("population", .number(40))]))
///     let strategy = try StrategyFactory.make(spec, space: space, objectives: 2, seed: 7)
///
/// Options (all optional):
/// - `random`: none.
/// - `grid`: `resolution` (values per continuous dimension), `limit` (most grid points, 1,000,000).
/// - `evolution`: `population` (20), `sample` (5), `sigma` (0.1), `mutations` (1).
/// - `nsga2`: `population` (20), `offspring` (= population), `crossover_probability` (0.9),
///   `crossover_eta` (15), `mutation_eta` (20), `mutation_probability` (1 / dimensions).
/// - `smsemoa`: `population` (50), `crossover_probability` (1), `crossover_eta` (2), `mutation_eta`
///   (50), `mutation_probability` (1 / dimensions), `reference_offset` (0.1).
/// - `rl`: see `ReinforceOptions`.
/// - `tpe`: `startup` (10), `candidates` (24), `gamma` (0.1), `max_good` (25), `prior_weight` (1),
///   `recent` (25), `min_bandwidth` (0.01).
/// - `auto`: none; `AutoStrategy` picks one of the above by the space, objectives and budget.
public enum StrategyFactory {
    /// The strategy names `make` knows.
    public static let names = ["auto", "random", "grid", "evolution", "nsga2", "smsemoa", "rl", "tpe"]

    /// - Parameter budget: the study's trial budget, if it has one (only `auto` reads it).
    /// - Throws: `ConfigError` for an unknown name (at `strategy.name`), an unknown option or an
    ///   option out of range (at `strategy.<option>`), or a space the strategy cannot search.
    public static func make(_ spec: StrategySpec, space: SearchSpace, objectives: Int, seed: UInt64,
                            budget: Int? = nil) throws -> Strategy {
        guard objectives >= 1 else { throw ConfigError(keyPath: "objectives", reason: "at least one objective is needed, got \(objectives)") }
        if spec.name == "auto" {
            try StrategyOptions(spec.options).rejectUnknownKeys(allowed: [], strategy: spec.name)
            let choice = AutoStrategy.choose(space: space, objectives: objectives, budget: budget)
            return try make(StrategySpec(name: choice.name), space: space, objectives: objectives, seed: seed)
        }
        if spec.name == "rl" {
            // REINFORCE over a policy network reads and checks its own options (`ReinforceOptions`).
            return try ReinforceStrategy.make(spec: spec, space: space, objectives: objectives, seed: seed)
        }
        guard names.contains(spec.name) else {
            throw ConfigError.unknownName(spec.name, kind: "strategy", among: names, keyPath: "strategy.name")
        }
        let options = try StrategyOptions(spec.options)
        switch spec.name {
        case "grid":
            try options.rejectUnknownKeys(allowed: ["resolution", "limit"], strategy: spec.name)
            let resolution = try options.integer("resolution", default: nil, atLeast: 1)
            let limit = try options.integer("limit", default: 1_000_000, atLeast: 1)
            return try GridSearch(space: space, seed: seed, resolution: resolution, limit: limit)
        case "evolution":
            return RegularizedEvolution(space: space, objectives: objectives, seed: seed, options: try evolutionOptions(options))
        case "nsga2":
            return NSGA2(space: space, objectives: objectives, seed: seed, options: try nsga2Options(options))
        case "smsemoa":
            return SMSEMOA(space: space, objectives: objectives, seed: seed, options: try smsemoaOptions(options))
        case "tpe":
            return TPE(space: space, objectives: objectives, seed: seed, options: try tpeOptions(options))
        default:
            try options.rejectUnknownKeys(allowed: [], strategy: spec.name)
            return RandomSearch(space: space, seed: seed)
        }
    }

    static func evolutionOptions(_ options: StrategyOptions) throws -> RegularizedEvolution.Options {
        try options.rejectUnknownKeys(allowed: ["population", "sample", "sigma", "mutations"], strategy: "evolution")
        var o = RegularizedEvolution.Options()
        o.population = try options.integer("population", default: o.population, atLeast: 2)
        o.sample = try options.integer("sample", default: min(o.sample, o.population), atLeast: 1)
        if o.sample > o.population {
            throw ConfigError(keyPath: "strategy.sample", reason: "must be ≤ the population (\(o.population)), got \(o.sample)")
        }
        o.sigma = try options.real("sigma", default: o.sigma, above: 0, inclusive: false)
        o.mutations = try options.integer("mutations", default: o.mutations, atLeast: 1)
        return o
    }

    static func nsga2Options(_ options: StrategyOptions) throws -> NSGA2.Options {
        try options.rejectUnknownKeys(allowed: ["population", "offspring", "crossover_probability", "crossover_eta",
                                                "mutation_eta", "mutation_probability"], strategy: "nsga2")
        var o = NSGA2.Options()
        o.population = try options.integer("population", default: o.population, atLeast: 2)
        o.offspring = try options.integer("offspring", default: nil, atLeast: 1)
        o.variation = try variation(options, defaults: o.variation)
        return o
    }

    static func smsemoaOptions(_ options: StrategyOptions) throws -> SMSEMOA.Options {
        try options.rejectUnknownKeys(allowed: ["population", "crossover_probability", "crossover_eta", "mutation_eta",
                                                "mutation_probability", "reference_offset"], strategy: "smsemoa")
        var o = SMSEMOA.Options()
        o.population = try options.integer("population", default: o.population, atLeast: 2)
        o.variation = try variation(options, defaults: o.variation)
        o.referenceOffset = try options.real("reference_offset", default: o.referenceOffset, above: 0, inclusive: false)
        return o
    }

    static func tpeOptions(_ options: StrategyOptions) throws -> TPE.Options {
        try options.rejectUnknownKeys(allowed: ["startup", "candidates", "gamma", "max_good", "prior_weight", "recent",
                                                "min_bandwidth"], strategy: "tpe")
        var o = TPE.Options()
        o.startup = try options.integer("startup", default: o.startup, atLeast: 1)
        o.candidates = try options.integer("candidates", default: o.candidates, atLeast: 1)
        o.gamma = try options.real("gamma", default: o.gamma, above: 0, inclusive: false, atMost: 1)
        o.maxGood = try options.integer("max_good", default: o.maxGood, atLeast: 1)
        o.priorWeight = try options.real("prior_weight", default: o.priorWeight, above: 0, inclusive: false)
        o.recent = try options.integer("recent", default: o.recent, atLeast: 0)
        o.minimumBandwidth = try options.real("min_bandwidth", default: o.minimumBandwidth, above: 0, inclusive: false, atMost: 1)
        return o
    }

    /// `crossover_probability`, `crossover_eta`, `mutation_eta`, `mutation_probability`.
    static func variation(_ options: StrategyOptions, defaults: Variation.Settings) throws -> Variation.Settings {
        Variation.Settings(
            crossoverProbability: try options.real("crossover_probability", default: defaults.crossoverProbability, above: 0, atMost: 1),
            crossoverEta: try options.real("crossover_eta", default: defaults.crossoverEta, above: 0),
            mutationEta: try options.real("mutation_eta", default: defaults.mutationEta, above: 0),
            mutationProbability: try options.real("mutation_probability", default: defaults.mutationProbability, above: 0, atMost: 1))
    }
}
