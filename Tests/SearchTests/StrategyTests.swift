import XCTest
import Engine
@testable import Search

/// The contract every strategy shares, checked for each name the factory knows: reproducible from
/// the seed, different under another seed, valid whatever order results arrive in, and resumable
/// from the told history.
final class StrategyTests: XCTestCase {
    /// Options that let the evolutionary strategies breed within the suite's 60 trials.
    static let suiteOptions: [String: JSONValue] = [
        "grid": .object([("resolution", .number(3))]),
        "evolution": .object([("population", .number(10)), ("sample", .number(3))]),
        "nsga2": .object([("population", .number(10))]),
        "smsemoa": .object([("population", .number(10))]),
    ]

    /// A space with a conditional choice: an mlp (depth, width) or a cnn (channels, kernel), and
    /// training settings of every domain kind.
    static let mixedSpace: SearchSpace = {
        func number(_ x: Double) -> JSONValue { .number(x) }
        let dimensions = [
            Dimension(name: "architecture.family", domain: .choice(options: [.string("mlp"), .string("cnn")])),
            Dimension(name: "architecture.depth", domain: .integer(lower: 1, upper: 4), condition: .init(parent: 0, option: 0)),
            Dimension(name: "architecture.width", domain: .real(.init(.uniform(low: 16, high: 512), log: true)), condition: .init(parent: 0, option: 0)),
            Dimension(name: "architecture.channels", domain: .choice(options: [number(16), number(32), number(64)]), condition: .init(parent: 0, option: 1)),
            Dimension(name: "architecture.kernel", domain: .integer(lower: 3, upper: 5), condition: .init(parent: 0, option: 1)),
            Dimension(name: "training.lr", domain: .real(.init(.uniform(low: 1e-4, high: 1e-1), log: true))),
            Dimension(name: "training.batch", domain: .choice(options: [number(32), number(64), number(128)])),
            Dimension(name: "training.dropout", domain: .real(.init(.uniform(low: 0, high: 0.5), q: 0.1))),
            Dimension(name: "training.momentum", domain: .real(.init(.normal(mean: 0.9, deviation: 0.02)))),
        ]
        func decision(_ i: Int) -> SpaceNode { .decision(index: i, options: [], merged: []) }
        let mlp = SpaceNode.object([.init("family", .constant(.string("mlp"))), .init("depth", decision(1)), .init("width", decision(2))])
        let cnn = SpaceNode.object([.init("family", .constant(.string("cnn"))), .init("channels", decision(3)), .init("kernel", decision(4))])
        let template = SpaceNode.object([
            .init("architecture", .decision(index: 0, options: [mlp, cnn], merged: [])),
            .init("training", .object([.init("lr", decision(5)), .init("batch", decision(6)), .init("dropout", decision(7)),
                                       .init("momentum", decision(8))])),
        ])
        return SearchSpace(dimensions: dimensions, template: template)
    }()

    struct Problem {
        var space: SearchSpace
        var objectives: Int
        var label: String
    }

    static let problems = [
        Problem(space: mixedSpace, objectives: 2, label: "mixed space, 2 objectives"),
        Problem(space: .unitCube(4), objectives: 1, label: "unit cube, 1 objective"),
    ]

    /// A deterministic result for trial `number`: objectives from the active unit coordinates
    /// (two conflicting sums of squares, or their first), a violation for some, and every
    /// eleventh trial failed.
    static func result(_ number: Int, _ c: Configuration, in problem: Problem) -> TrialResult {
        if number % 11 == 10 { return TrialResult(number: number, configuration: c, outcome: .failed, objectives: []) }
        let u = problem.space.unit(of: c)
        let active = problem.space.activeDimensions(in: c)
        let f1 = active.reduce(0) { $0 + u[$1] * u[$1] } / Double(active.count)
        let f2 = active.reduce(0) { $0 + (1 - u[$1]) * (1 - u[$1]) } / Double(active.count)
        let violation = max(0, u[0] - 0.9)
        return TrialResult(number: number, configuration: c, outcome: violation > 0 ? .infeasible : .complete,
                           objectives: Array([f1, f2].prefix(problem.objectives)), violation: violation)
    }

    func make(_ name: String, _ problem: Problem, seed: UInt64) throws -> Strategy {
        try StrategyFactory.make(StrategySpec(name: name, options: StrategyTests.suiteOptions[name] ?? .object([JSONValue.Member]())),
                                 space: problem.space, objectives: problem.objectives, seed: seed)
    }

    /// Ask/tell in batches of `batch`; within a batch results are told in reverse when `reversed`.
    func run(_ name: String, _ problem: Problem, seed: UInt64, trials: Int = 60, batch: Int = 1,
             reversed: Bool = false) throws -> (configurations: [Configuration], results: [TrialResult]) {
        let strategy = try make(name, problem, seed: seed)
        var configurations: [Configuration] = [], results: [TrialResult] = []
        var start = 0
        while start < trials {
            let numbers = Array(start..<min(start + batch, trials))
            let asked = try numbers.map { try strategy.ask(number: $0) }
            configurations += asked
            var told = zip(numbers, asked).map { StrategyTests.result($0, $1, in: problem) }
            if reversed { told.reverse() }
            for r in told { strategy.tell(r); results.append(r) }
            start += batch
        }
        return (configurations, results)
    }

    func assertValid(_ configurations: [Configuration], _ problem: Problem, _ context: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        for (n, c) in configurations.enumerated() {
            XCTAssertEqual(c.values.count, problem.space.dimensions.count, "\(context), trial \(n)", file: file, line: line)
            for (d, v) in zip(problem.space.dimensions, c.values) where !d.domain.contains(v) {
                XCTFail("\(context), trial \(n): \(d.name) = \(v) is not in its domain", file: file, line: line)
            }
        }
    }

    func testEveryStrategyIsReproducibleFromItsSeed() throws {
        for name in StrategyFactory.names {
            for problem in StrategyTests.problems {
                let context = "\(name) on \(problem.label)"
                let first = try run(name, problem, seed: 1).configurations
                let again = try run(name, problem, seed: 1).configurations
                let other = try run(name, problem, seed: 2).configurations
                XCTAssertEqual(first.count, 60, context)
                XCTAssertEqual(first, again, "\(context): the same seed must give the same candidates")
                XCTAssertNotEqual(first, other, "\(context): another seed must give other candidates")
                XCTAssertGreaterThan(Set(first).count, 50, "\(context): candidates should rarely repeat")
                assertValid(first, problem, context)
                assertValid(other, problem, context)
            }
        }
    }

    func testEveryStrategyProposesValidCandidatesWhateverOrderResultsArriveIn() throws {
        for name in StrategyFactory.names {
            for problem in StrategyTests.problems {
                let context = "\(name) on \(problem.label), batches of 4 told in reverse"
                let (configurations, results) = try run(name, problem, seed: 3, batch: 4, reversed: true)
                assertValid(configurations, problem, context)
                // Results told from elsewhere, out of order and with gaps, still leave it able to propose.
                let strategy = try make(name, problem, seed: 4)
                for r in results.shuffledDeterministically(seed: 5).prefix(40) { strategy.tell(r) }
                assertValid(try (60..<70).map { try strategy.ask(number: $0) }, problem, context + ", told from elsewhere")
            }
        }
    }

    func testEveryStrategyResumesFromTheToldHistory() throws {
        for name in StrategyFactory.names {
            for problem in StrategyTests.problems {
                let (configurations, results) = try run(name, problem, seed: 6)
                let resumed = try make(name, problem, seed: 6)
                for r in results.prefix(30) { resumed.tell(r) }
                XCTAssertEqual(try resumed.ask(number: 30), configurations[30], "\(name) on \(problem.label): resumed trial 30")
            }
        }
    }
}

extension Array {
    /// A seeded permutation, the same on every platform.
    func shuffledDeterministically(seed: UInt64) -> [Element] {
        var rng = RandomSource(seed: seed)
        return rng.permutation(count).map { self[$0] }
    }
}
