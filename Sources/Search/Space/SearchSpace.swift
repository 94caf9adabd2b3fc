import Engine

/// One decision of a search space: where its value goes, what values it takes, and when it is
/// active.
public struct Dimension: Hashable, Sendable {
    /// Dotted key path of the value in the candidate (`architecture.widths`, `training.lr`,
    /// `architecture.stages[0].channels`).
    public var name: String
    public var domain: Domain
    /// The choice this dimension lives under, if any: it is active only when dimension `parent`
    /// is active and took option `option`.
    public var condition: Condition?

    public struct Condition: Hashable, Sendable {
        public var parent: Int
        public var option: Int
        public init(parent: Int, option: Int) { self.parent = parent; self.option = option }
    }

    public init(name: String, domain: Domain, condition: Condition? = nil) {
        self.name = name; self.domain = domain; self.condition = condition
    }
}

/// The shape of a candidate with holes where the search decides: fixed JSON, objects and arrays
/// whose members may be decisions, and the decisions themselves.
public indirect enum SpaceNode: Hashable, Sendable {
    case constant(JSONValue)
    case object([Field])
    case array([SpaceNode])
    /// Dimension `index` decides this value. For a choice, `options[k]` is what option k becomes
    /// (itself a node: an option may hold further decisions); `merged[k]` are fields an option
    /// written as `{"_name": ..., key: ...}` adds to the enclosing object when it is chosen.
    case decision(index: Int, options: [SpaceNode], merged: [[Field]])

    public struct Field: Hashable, Sendable {
        public var key: String
        public var node: SpaceNode
        public init(_ key: String, _ node: SpaceNode) { self.key = key; self.node = node }
    }
}

/// A point in a search space: one value per dimension, in the dimensions' order, whether or not
/// the dimension is active (an inactive value is carried along — crossover may wake it — but
/// never reaches a candidate). Values are option indices for choices, integers for integer
/// domains, reals otherwise.
public struct Configuration: Hashable, Sendable {
    public var values: [Double]
    public init(_ values: [Double]) { self.values = values }
}

/// A search space: the dimensions a strategy decides and the template that turns their values
/// into a candidate document.
///
///     let space = SearchSpace(dimensions: [Dimension(name: "lr", domain: .real(.init(.uniform(low: 0, high: 1))))],
///                             template: .object([.init("lr", .decision(index: 0, options: [], merged: []))]))
///     space.materialize(Configuration([0.5]))   // {"lr": 0.5}
/// Invariant: a conditional dimension comes after the choice it depends on.
public struct SearchSpace: Hashable, Sendable {
    public var dimensions: [Dimension]
    public var template: SpaceNode

    public init(dimensions: [Dimension], template: SpaceNode) {
        self.dimensions = dimensions; self.template = template
    }

    /// A space of `count` real variables in [0, 1] named `x0`, `x1`, ... (benchmark problems).
    public static func unitCube(_ count: Int) -> SearchSpace {
        let dims = (0..<count).map { Dimension(name: "x\($0)", domain: .real(.init(.uniform(low: 0, high: 1)))) }
        return SearchSpace(dimensions: dims, template: .object(dims.indices.map {
            .init(dims[$0].name, .decision(index: $0, options: [], merged: []))
        }))
    }

    public var isEmpty: Bool { dimensions.isEmpty }

    /// Number of distinct candidates, if every dimension is finite (conditional dimensions counted
    /// only under their option). Nil for continuous spaces; saturates at `Int.max`.
    public var cardinality: Int? { grid(limit: Int.max).map(\.count) }

    /// Whether dimension `index` takes part in `configuration`.
    public func isActive(_ index: Int, in configuration: Configuration) -> Bool {
        var i = index
        while let c = dimensions[i].condition {
            guard Int(configuration.values[c.parent]) == c.option else { return false }
            i = c.parent
        }
        return true
    }

    /// Indices of the active dimensions, ascending.
    public func activeDimensions(in configuration: Configuration) -> [Int] {
        dimensions.indices.filter { isActive($0, in: configuration) }
    }

    /// The active parameters as they are stored and shown: key path → value as it appears in the
    /// candidate.
    public func parameters(_ configuration: Configuration) -> [(name: String, value: JSONValue)] {
        activeDimensions(in: configuration).map { (dimensions[$0].name, dimensions[$0].domain.json(configuration.values[$0])) }
    }

    /// The candidate document for `configuration`.
    public func materialize(_ configuration: Configuration) -> JSONValue {
        materialize(template, configuration)
    }

    private func materialize(_ node: SpaceNode, _ c: Configuration) -> JSONValue {
        switch node {
        case .constant(let v): return v
        case .array(let nodes): return .array(nodes.map { materialize($0, c) })
        case .decision(let index, let options, _):
            let v = c.values[index]
            if options.isEmpty { return dimensions[index].domain.json(v) }
            return materialize(options[Int(v)], c)
        case .object(let fields):
            var members: [JSONValue.Member] = []
            func put(_ key: String, _ value: JSONValue) {
                if let k = members.firstIndex(where: { $0.key == key }) { members[k].value = value }
                else { members.append(.init(key, value)) }
            }
            for field in fields {
                put(field.key, materialize(field.node, c))
                if case .decision(let index, _, let merged) = field.node, !merged.isEmpty {
                    for extra in merged[Int(c.values[index])] { put(extra.key, materialize(extra.node, c)) }
                }
            }
            return .object(members)
        }
    }

    /// The configuration at unit coordinates `u` (one per dimension).
    public func configuration(atUnit u: [Double]) -> Configuration {
        precondition(u.count == dimensions.count, "\(u.count) coordinates for \(dimensions.count) dimensions")
        return Configuration(zip(dimensions, u).map { $0.domain.value(atUnit: $1) })
    }

    /// The unit coordinates of `configuration`.
    public func unit(of configuration: Configuration) -> [Double] {
        zip(dimensions, configuration.values).map { $0.domain.unit(of: $1) }
    }

    /// A configuration drawn from the prior.
    public func sample(using rng: inout RandomSource) -> Configuration {
        configuration(atUnit: dimensions.map { _ in rng.nextDouble() })
    }

    /// Every distinct candidate of a finite space, in a fixed order (the first option first),
    /// with inactive dimensions at their first value; nil if some active dimension is continuous
    /// or there are more than `limit`.
    public func grid(limit: Int) -> [Configuration]? {
        var results: [Configuration] = [Configuration(dimensions.map { d in d.domain.allValues?.first ?? d.domain.value(atUnit: 0.5) })]
        for (i, d) in dimensions.enumerated() {
            var next: [Configuration] = []
            for c in results {
                guard isActive(i, in: c) else { next.append(c); continue }
                guard let values = d.domain.allValues else { return nil }
                for v in values {
                    var c2 = c
                    c2.values[i] = v
                    next.append(c2)
                    if next.count > limit { return nil }
                }
            }
            results = next
        }
        return results
    }
}

