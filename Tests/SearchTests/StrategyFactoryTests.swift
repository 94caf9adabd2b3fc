import XCTest
import Engine
@testable import Search

final class StrategyFactoryTests: XCTestCase {
    private func make(_ name: String, _ options: [(String, JSONValue)] = [], space: SearchSpace = .unitCube(3)) throws -> Strategy {
        try StrategyFactory.make(StrategySpec(name: name, options: .object(options)), space: space, objectives: 2, seed: 1)
    }

    private func assertError(_ name: String, _ options: [(String, JSONValue)], _ message: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try make(name, options), file: file, line: line) { error in
            XCTAssertEqual((error as? ConfigError)?.description, message, file: file, line: line)
        }
    }

    func testNamesBuildTheirStrategies() throws {
        XCTAssertTrue(try make("random") is RandomSearch)
        XCTAssertTrue(try make("grid", [("resolution", .number(2))]) is GridSearch)
        XCTAssertTrue(try make("evolution") is RegularizedEvolution)
        XCTAssertTrue(try make("smsemoa") is SMSEMOA)
        XCTAssertTrue(try make("rl") is ReinforceStrategy)
        let nsga2 = try XCTUnwrap(try make("nsga2", [("population", .number(30)), ("offspring", .number(10)), ("crossover_eta", .number(5)),
                                                    ("mutation_probability", .number(0.25)), ("name", .string("nsga2"))]) as? NSGA2)
        XCTAssertEqual(nsga2.options, NSGA2.Options(population: 30, offspring: 10, variation: Variation.Settings(
            crossoverProbability: 0.9, crossoverEta: 5, mutationEta: 20, mutationProbability: 0.25)))
        let evolution = try XCTUnwrap(try make("evolution", [("population", .number(3))]) as? RegularizedEvolution)
        XCTAssertEqual(evolution.options.sample, 3, "the default tournament shrinks to a small population")
    }

    func testOptionsOutOfRange() {
        assertError("nsga2", [("population", .number(1))], "strategy.population: must be ≥ 2, got 1")
        assertError("evolution", [("population", .number(2.5))], "strategy.population: must be a whole number, got 2.5")
        assertError("evolution", [("sample", .number(30))], "strategy.sample: must be ≤ the population (20), got 30")
        assertError("evolution", [("sigma", .number(0))], "strategy.sigma: must be > 0, got 0")
        assertError("nsga2", [("crossover_probability", .number(1.5))], "strategy.crossover_probability: must be ≤ 1, got 1.5")
        assertError("smsemoa", [("mutation_eta", .number(-1))], "strategy.mutation_eta: must be ≥ 0, got -1")
        assertError("grid", [("resolution", .number(0))], "strategy.resolution: must be ≥ 1, got 0")
        assertError("nsga2", [("population", .string("many"))], "strategy.population: expected a number, got a string")
    }

    func testUnknownNamesAndKeys() {
        assertError("nsga", [], "strategy.name: unknown strategy 'nsga' (valid: auto, random, grid, evolution, nsga2, smsemoa, rl, tpe). Did you mean 'nsga2'?")
        assertError("nsga2", [("populaton", .number(10))],
                    "strategy.populaton: unknown option of strategy 'nsga2' (valid: population, offspring, crossover_probability, "
                    + "crossover_eta, mutation_eta, mutation_probability). Did you mean 'population'?")
        assertError("random", [("seed", .number(3))], "strategy.seed: unknown option of strategy 'random' (it takes no options)")
        XCTAssertThrowsError(try StrategyFactory.make(StrategySpec(name: "nsga2", options: .array([])), space: .unitCube(1), objectives: 1, seed: 0)) {
            XCTAssertEqual(($0 as? ConfigError)?.description, "strategy: expected an object, got an array")
        }
        XCTAssertThrowsError(try StrategyFactory.make(StrategySpec(name: "nsga2"), space: .unitCube(1), objectives: 0, seed: 0))
    }

    func testGridOfAContinuousSpaceIsAConfigError() {
        XCTAssertThrowsError(try make("grid")) { XCTAssertEqual(($0 as? ConfigError)?.keyPath, "strategy") }
    }
}

final class AutoStrategyTests: XCTestCase {
    func testRuleBySpaceObjectivesAndBudget() {
        let small = SearchSpace(dimensions: [Dimension(name: "a", domain: .integer(lower: 1, upper: 3))],
                                template: .object([.init("a", .decision(index: 0, options: [], merged: []))]))
        XCTAssertEqual(AutoStrategy.choose(space: small, objectives: 1, budget: 10).name, "grid")
        XCTAssertEqual(AutoStrategy.choose(space: small, objectives: 1, budget: 2).name, "tpe")
        XCTAssertEqual(AutoStrategy.choose(space: .unitCube(5), objectives: 1, budget: 100).name, "tpe")
        XCTAssertEqual(AutoStrategy.choose(space: .unitCube(5), objectives: 3, budget: 300).name, "tpe")
        XCTAssertEqual(AutoStrategy.choose(space: .unitCube(5), objectives: 3, budget: 301).name, "nsga2")
        XCTAssertEqual(AutoStrategy.choose(space: .unitCube(5), objectives: 1, budget: 200).name, "tpe")
        XCTAssertEqual(AutoStrategy.choose(space: .unitCube(5), objectives: 1, budget: 201).name, "rl")
        XCTAssertEqual(AutoStrategy.choose(space: .unitCube(5), objectives: 1, budget: 1_000).name, "rl")
        XCTAssertEqual(AutoStrategy.choose(space: .unitCube(5), objectives: 1, budget: 1_000).reason,
                       "one objective, continuous dimensions only, a budget of 1000 in 201...1000 trials")
        let levels = SearchSpace(dimensions: [Dimension(name: "n", domain: .integer(lower: 0, upper: 999))],
                                 template: .object([.init("n", .decision(index: 0, options: [], merged: []))]))
        XCTAssertEqual(AutoStrategy.choose(space: levels, objectives: 1, budget: 300).name, "tpe", "a grid of levels stays with TPE")
        XCTAssertEqual(AutoStrategy.choose(space: .unitCube(5), objectives: 1, budget: 1_001).name, "evolution")
        XCTAssertEqual(AutoStrategy.choose(space: .unitCube(30), objectives: 2, budget: 10_000).name, "nsga2")
        XCTAssertEqual(AutoStrategy.choose(space: .unitCube(30), objectives: 2, budget: nil).name, "nsga2")
        XCTAssertEqual(AutoStrategy.choose(space: .unitCube(5), objectives: 1, budget: 100).reason,
                       "one objective, a budget of 100 ≤ 1000 trials")
        XCTAssertEqual(AutoStrategy.resolve(StrategySpec(name: "auto"), space: .unitCube(2), objectives: 2, budget: 50), StrategySpec(name: "tpe"))
        XCTAssertEqual(AutoStrategy.resolve(StrategySpec(name: "nsga2"), space: .unitCube(2), objectives: 2, budget: 50), StrategySpec(name: "nsga2"))
    }

    func testFactoryBuildsWhatAutoChooses() throws {
        XCTAssertTrue(try StrategyFactory.make(StrategySpec(name: "auto"), space: .unitCube(3), objectives: 1, seed: 0, budget: 100) is TPE)
        XCTAssertTrue(try StrategyFactory.make(StrategySpec(name: "auto"), space: .unitCube(3), objectives: 2, seed: 0) is NSGA2)
        XCTAssertThrowsError(try StrategyFactory.make(StrategySpec(name: "auto", options: .object([.init("population", .number(3))])),
                                                      space: .unitCube(3), objectives: 1, seed: 0))
    }
}
