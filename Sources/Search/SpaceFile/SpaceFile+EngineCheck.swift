import Compression
import Engine

extension SpaceFile {
    /// An engine space is checked against what the engine can train before any trial runs: a
    /// `parallelism` section is refused, and candidates covering every option of every choice
    /// (each with the choices above it set so that it is active) are decoded into the engine's
    /// typed recipe. A misspelt key (`training.epocs`), a value of the wrong type or a compression
    /// step the family does not support is an error naming its key path, not a budget of failed
    /// trials.
    static func checkEngineSpace(_ space: SearchSpace, sections: [JSONValue.Member], data: JSONValue, epochs: Int?) throws {
        if let plan = sections.first(where: { $0.key == "parallelism" }), !isEmptySection(plan.value) {
            throw ConfigError(keyPath: "parallelism", reason: String(EngineEvaluator.parallelismReason.dropFirst("parallelism: ".count)))
        }
        var invalid: [String] = []
        let probes = probeConfigurations(space)
        for configuration in probes {
            let document: JSONValue, recipe: Recipe
            do {
                document = try EngineEvaluator.candidateDocument(space.materialize(configuration), data: data, epochs: epochs)
                recipe = try document.decoded(as: Recipe.self)
            } catch let e as EvaluationError {
                throw ConfigError(keyPath: "", reason: e.reason)
            } catch let e as DecodingError {
                throw ConfigError(keyPath: "", reason: describeDecodingError(e))
            }
            // A setting that is invalid only in some combinations fails those trials; one that
            // is invalid in every combination the space has is an error now.
            do { try recipe.validate() } catch let e as ConfigError { invalid.append(e.description) }
        }
        if invalid.count == probes.count, let first = invalid.first {
            throw ConfigError(keyPath: "", reason: first)
        }
    }

    /// The configurations the check decodes: every dimension at the middle of its range, then
    /// each option of each choice in turn.
    static func probeConfigurations(_ space: SearchSpace) -> [Configuration] {
        let middle = space.dimensions.map { _ in 0.5 }
        var units = [middle]
        for (d, dimension) in space.dimensions.enumerated() {
            guard case .choice(let options) = dimension.domain else { continue }
            for k in options.indices {
                var u = middle
                u[d] = dimension.domain.unit(of: Double(k))
                var condition = dimension.condition
                while let c = condition {
                    u[c.parent] = space.dimensions[c.parent].domain.unit(of: Double(c.option))
                    condition = space.dimensions[c.parent].condition
                }
                units.append(u)
            }
        }
        return units.map(space.configuration(atUnit:))
    }

    private static func isEmptySection(_ value: JSONValue) -> Bool {
        switch value {
        case .null: return true
        case .object(let m): return m.isEmpty
        case .array(let a): return a.isEmpty
        default: return false
        }
    }
}
