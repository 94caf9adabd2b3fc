import Engine

/// A metric to optimise and in which direction.
public struct Objective: Hashable, Sendable {
    public enum Direction: String, Hashable, Sendable, CaseIterable { case minimize, maximize }
    public var metric: String
    public var direction: Direction
    public init(_ metric: String, _ direction: Direction) { self.metric = metric; self.direction = direction }

    /// The value as strategies see it: minimised (a maximised metric is negated).
    public func minimized(_ value: Double) -> Double { direction == .minimize ? value : -value }
}

/// A bound on a metric: `metric ≤ bound` or `metric ≥ bound`.
public struct MetricConstraint: Hashable, Sendable {
    public enum Relation: String, Hashable, Sendable { case atMost = "<=", atLeast = ">=" }
    public var metric: String
    public var relation: Relation
    public var bound: Double
    public init(_ metric: String, _ relation: Relation, _ bound: Double) { self.metric = metric; self.relation = relation; self.bound = bound }

    /// How far `value` is on the wrong side of the bound (0 when satisfied).
    public func violation(_ value: Double) -> Double {
        switch relation {
        case .atMost: return max(0, value - bound)
        case .atLeast: return max(0, bound - value)
        }
    }
}

/// How candidates are evaluated.
public enum EvaluatorSpec: Hashable, Sendable {
    /// Train on the built-in engine. `data` is the candidate's `data` section (a DataConfig
    /// object); `epochs` caps training epochs (the resource multi-fidelity stopping spends).
    case engine(data: JSONValue, epochs: Int?)
    /// Run the user's program.
    case command(CommandSpec)
    /// An analytic test problem.
    case benchmark(problem: String, variables: Int, objectives: Int?)
    /// Cost a GPT's training plans shape-only on a cluster (`model` is a gpt architecture).
    case meta(model: JSONValue, hardware: String, nodes: Int, gpusPerNode: Int?, globalBatch: Int)

    public var name: String {
        switch self {
        case .engine: return "engine"
        case .command: return "command"
        case .benchmark: return "benchmark"
        case .meta: return "meta"
        }
    }
}

/// The user's program as an evaluator.
public struct CommandSpec: Hashable, Sendable {
    public enum Input: String, Hashable, Sendable { case stdin, arguments }
    /// Program and arguments; `{name}` placeholders (a parameter's last key, or its full key path)
    /// are replaced by the candidate's values.
    public var argv: [String]
    /// `stdin`: the candidate JSON is written to the program's standard input.
    /// `arguments`: only the placeholders carry it.
    public var input: Input
    public var timeoutSeconds: Double?
    /// One long-running process answering one JSON line per candidate line.
    public var persistent: Bool
    public var workingDirectory: String?
    public var environment: [String: String]

    public init(argv: [String], input: Input = .stdin, timeoutSeconds: Double? = nil, persistent: Bool = false,
                workingDirectory: String? = nil, environment: [String: String] = [:]) {
        self.argv = argv; self.input = input; self.timeoutSeconds = timeoutSeconds; self.persistent = persistent
        self.workingDirectory = workingDirectory; self.environment = environment
    }
}

/// The strategy's name and its options object (each strategy reads its own options).
public struct StrategySpec: Hashable, Sendable {
    public var name: String
    public var options: JSONValue
    public init(name: String, options: JSONValue = .object([JSONValue.Member]())) { self.name = name; self.options = options }
}

/// Multi-fidelity early stopping over a trial's learning curve.
public struct EarlyStoppingSpec: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable, CaseIterable { case successiveHalving = "successive_halving", hyperband }
    public var kind: Kind
    /// Smallest resource (epochs) a trial gets before it can be stopped.
    public var minResource: Int
    /// Largest resource; defaults to the evaluator's epoch budget.
    public var maxResource: Int?
    /// η: each rung keeps the best 1/η.
    public var reductionFactor: Int
    public init(kind: Kind, minResource: Int = 1, maxResource: Int? = nil, reductionFactor: Int = 3) {
        self.kind = kind; self.minResource = minResource; self.maxResource = maxResource; self.reductionFactor = reductionFactor
    }
}

/// When a study stops: after `trials` trials and/or `seconds` of wall-clock time.
public struct Budget: Hashable, Sendable {
    public var trials: Int?
    public var seconds: Double?
    public init(trials: Int? = nil, seconds: Double? = nil) { self.trials = trials; self.seconds = seconds }
}

/// A parsed, validated space file: everything `autotune search` needs.
public struct StudySpec: Hashable, Sendable {
    /// The search space over the candidate sections (architecture, training, precision,
    /// compression, parallelism) — or, for a benchmark problem, over its variables.
    public var space: SearchSpace
    public var evaluator: EvaluatorSpec
    public var objectives: [Objective]
    public var constraints: [MetricConstraint]
    public var strategy: StrategySpec
    public var earlyStopping: EarlyStoppingSpec?
    public var budget: Budget
    public var seed: UInt64
    public var workers: Int
    /// The study name the file asks for, if any (else the file's base name).
    public var name: String?
    /// The hypervolume reference point the file fixes, in the objectives' own units (else one is
    /// chosen from the first trials).
    public var referencePoint: [Double]?

    public init(space: SearchSpace, evaluator: EvaluatorSpec, objectives: [Objective], constraints: [MetricConstraint] = [],
                strategy: StrategySpec, earlyStopping: EarlyStoppingSpec? = nil, budget: Budget, seed: UInt64,
                workers: Int = 1, name: String? = nil) {
        self.space = space; self.evaluator = evaluator; self.objectives = objectives; self.constraints = constraints
        self.strategy = strategy; self.earlyStopping = earlyStopping; self.budget = budget; self.seed = seed
        self.workers = workers; self.name = name
    }
}
