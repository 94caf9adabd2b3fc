import XCTest
import Engine
@testable import Search

final class RegularizedEvolutionTests: XCTestCase {
    let space = StrategyTests.mixedSpace

    private func result(_ number: Int, _ c: Configuration, _ objectives: [Double], violation: Double = 0) -> TrialResult {
        TrialResult(number: number, configuration: c, outcome: violation > 0 ? .infeasible : .complete, objectives: objectives, violation: violation)
    }

    /// The active dimensions where `a` and `b` differ.
    private func changed(_ a: Configuration, _ b: Configuration) -> [Int] {
        space.activeDimensions(in: a).filter { a.values[$0] != b.values[$0] }
    }

    func testPriorUntilThePopulationIsFull() throws {
        let evolution = RegularizedEvolution(space: space, objectives: 1, seed: 3, options: .init(population: 5, sample: 2))
        let random = RandomSearch(space: space, seed: 3)
        for n in 0..<5 {
            let c = try evolution.ask(number: n)
            XCTAssertEqual(c, try random.ask(number: n))
            evolution.tell(result(n, c, [Double(n)]))
        }
        XCTAssertNotEqual(try evolution.ask(number: 5), try random.ask(number: 5))
    }

    /// With the tournament as large as the population, the parent is the best of the last P told:
    /// old results age out even when they are the best.
    func testAgingDropsTheOldestWhateverItsScore() throws {
        let evolution = RegularizedEvolution(space: space, objectives: 1, seed: 4, options: .init(population: 4, sample: 4))
        var rng = RandomSource(seed: 10)
        let configurations = (0..<8).map { _ in space.sample(using: &rng) }
        // Trials 0–3 are excellent, 4–7 worse, of which trial 6 is the best.
        for (n, c) in configurations.enumerated() { evolution.tell(result(n, c, [n < 4 ? -100 : [5, 7, 1, 9][n - 4]])) }
        for n in 8..<30 {
            let child = try evolution.ask(number: n)
            XCTAssertEqual(changed(configurations[6], child).count, 1, "trial \(n) mutates exactly one dimension of trial 6")
        }
    }

    func testMultiObjectiveTournamentPrefersRankThenFeasibility() {
        let c = Configuration(Array(repeating: 0, count: space.dimensions.count))
        let sample = [result(0, c, [2, 2]), result(1, c, [1, 3]), result(2, c, [3, 3]), result(3, c, [0, 0], violation: 1)]
        XCTAssertEqual(RegularizedEvolution.best(of: sample), 0, "rank 0 holds 0 and 1, both extremes: the first drawn wins")
        XCTAssertEqual(RegularizedEvolution.best(of: [sample[2], sample[3]]), 0, "feasible beats infeasible")
        XCTAssertEqual(RegularizedEvolution.best(of: [result(0, c, [4]), result(1, c, [2]), result(2, c, [3])]), 1)
    }

    func testMutationsStayInTheirDomainsAndMove() {
        let evolution = RegularizedEvolution(space: space, objectives: 1, seed: 5, options: .init(sigma: 0.05))
        var rng = RandomSource(seed: 6)
        for _ in 0..<300 {
            let parent = space.sample(using: &rng)
            let child = evolution.mutate(parent, using: &rng)
            let moved = changed(parent, child)
            XCTAssertEqual(moved.count, 1)
            for (d, v) in zip(space.dimensions, child.values) { XCTAssertTrue(d.domain.contains(v), "\(d.name) = \(v)") }
            // A choice that changes keeps the carried values of the dimensions it wakes.
            if moved == [0] { XCTAssertEqual(Array(child.values[1...]), Array(parent.values[1...])) }
        }
        // An integer at its bound steps inwards by at least one.
        XCTAssertEqual(evolution.mutate(4, in: .integer(lower: 1, upper: 4), using: &rng) < 4, true)
        XCTAssertFalse(RegularizedEvolution.canChange(.choice(options: [.null])))
        XCTAssertFalse(RegularizedEvolution.canChange(.real(.init(.uniform(low: 1, high: 1)))))
    }

    func testAvoidsProposingAToldCandidateInASmallSpace() throws {
        let space = GridSearchTests.finiteSpace                       // 12 candidates
        let evolution = RegularizedEvolution(space: space, objectives: 1, seed: 7, options: .init(population: 3, sample: 2))
        var seen = Set<[Double]>()
        var repeats = 0
        for n in 0..<10 {
            let c = try evolution.ask(number: n)
            let key = KnownCandidates(space: space).key(c)
            if !seen.insert(key).inserted { repeats += 1 }
            evolution.tell(result(n, c, [Double(n % 4)]))
        }
        XCTAssertLessThanOrEqual(repeats, 1, "ten proposals from twelve candidates should hardly repeat")
    }
}
