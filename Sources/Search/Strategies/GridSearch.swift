import Engine

/// Every candidate of a finite space once, in an order shuffled by the seed; trial n gets grid
/// point n and `StrategyError.exhausted` follows the last one. Told results are ignored.
///
/// Continuous dimensions are an error unless `resolution` is given: each is then split into that
/// many values at the centres of equal cells of the unit interval (so a prior's quantiles for a
/// normal or log-uniform dimension).
///
///     let grid = try GridSearch(space: space, seed: 1)
///     try grid.ask(number: 0)   // one of the grid's points
public final class GridSearch: Strategy {
    public let space: SearchSpace
    /// The grid in the order trials get it.
    public let points: [Configuration]

    /// Stream of the seed that shuffles the grid (trial streams are the trial numbers).
    static let shuffleStream: UInt64 = 0x6772_6964   // "grid"

    /// - Parameters:
    ///   - resolution: values per continuous dimension (nil: continuous dimensions are an error).
    ///   - limit: the most candidates a grid may have.
    /// - Throws: `ConfigError` when the space is not finite (without `resolution`) or too large.
    public init(space: SearchSpace, seed: UInt64, resolution: Int? = nil, limit: Int = 1_000_000) throws {
        self.space = space
        var points = try GridSearch.enumerate(space, resolution: resolution, limit: limit)
        var rng = RandomSource.derived(seed: seed, stream: GridSearch.shuffleStream)
        rng.shuffle(&points)
        self.points = points
    }

    public func ask(number: Int) throws -> Configuration {
        guard number >= 0, number < points.count else { throw StrategyError.exhausted(proposed: points.count) }
        return points[number]
    }

    public func tell(_ result: TrialResult) {}

    /// Every distinct candidate, the first option first, inactive dimensions at their first value
    /// (the order of `SearchSpace.grid(limit:)`, with continuous dimensions split by `resolution`).
    static func enumerate(_ space: SearchSpace, resolution: Int?, limit: Int) throws -> [Configuration] {
        var values: [[Double]] = []
        for d in space.dimensions {
            if let n = d.domain.cardinality {
                guard n <= limit else { throw tooLarge(limit) }
                values.append(d.domain.allValues ?? [])
            } else if let r = resolution {
                values.append((0..<r).map { d.domain.value(atUnit: (Double($0) + 0.5) / Double(r)) })
            } else {
                throw ConfigError(keyPath: "strategy", reason: "grid search needs a finite space, and '\(d.name)' is continuous "
                                  + "(give it a step 'q', or set strategy.resolution to split continuous dimensions)")
            }
        }
        var results = [Configuration(values.map { $0.first ?? 0 })]
        for i in space.dimensions.indices {
            var next: [Configuration] = []
            for c in results {
                guard space.isActive(i, in: c) else { next.append(c); continue }
                for v in values[i] {
                    var c2 = c
                    c2.values[i] = v
                    next.append(c2)
                    if next.count > limit { throw tooLarge(limit) }
                }
            }
            results = next
        }
        return results
    }

    private static func tooLarge(_ limit: Int) -> ConfigError {
        ConfigError(keyPath: "strategy", reason: "the grid has more than \(limit) candidates (raise strategy.limit or use another strategy)")
    }
}
