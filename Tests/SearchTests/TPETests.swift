import XCTest
import Foundation
import Engine
@testable import Search

final class TPETests: XCTestCase {
    /// The mixture of two truncated normals (σ = 0.1) at 0.2 and 0.4 and a uniform prior of weight 1,
    /// worked by hand at x = 0.3: each kernel is φ(±1)/σ over its mass inside [0, 1],
    /// k(0.3 | 0.2) = 2.419707/0.1 / (Φ(8) − Φ(−2)) = 2.476037, k(0.3 | 0.4) = 2.419707/0.1 / (Φ(6) − Φ(−4))
    /// = 2.419784, and l(0.3) = (2.476037 + 2.419784 + 1) / 3 = 1.965274.
    func testParzenDensityMatchesAWorkedExample() {
        let kde = ParzenEstimator(kinds: [.numeric], centres: [[0.2], [0.4]], bandwidths: [0.1], priorWeight: 1)
        XCTAssertEqual(exp(kde.logDensity([0.3])), 1.9652737694730167, accuracy: 1e-9)
        // Far from both kernels little more than the prior's 1/3 is left: z = 7.5 and 5.5.
        XCTAssertEqual(exp(kde.logDensity([0.95])), 0.33333369233753557, accuracy: 1e-12)
    }

    /// Aitchison–Aitken with b = 0.2 over 3 options, one observation of option 0, prior weight 1:
    /// p(0) = (0.8 + 1/3)/2, p(1) = p(2) = (0.1 + 1/3)/2.
    func testCategoricalKernelByHand() {
        let kde = ParzenEstimator(kinds: [.categorical(options: 3)], centres: [[0]], bandwidths: [0.2], priorWeight: 1)
        XCTAssertEqual(exp(kde.logDensity([0])), (0.8 + 1.0 / 3) / 2, accuracy: 1e-12)
        XCTAssertEqual(exp(kde.logDensity([2])), (0.1 + 1.0 / 3) / 2, accuracy: 1e-12)
        XCTAssertEqual((0..<3).reduce(0) { $0 + exp(kde.logDensity([Double($1)])) }, 1, accuracy: 1e-12)
    }

    /// Scott's rule with the prior as one more observation: centres 0.2 and 0.4 (mean 0.3, squares
    /// 0.02) give s = √((0.02 + 1/12)/3) = 0.185592 and σ = s · 2^(−1/5) = 0.161567.
    func testBandwidthRuleByHand() {
        let b = ParzenEstimator.bandwidths(kinds: [.numeric, .categorical(options: 4)], centres: [[0.2, 1], [0.4, 3]], minimum: 0.01)
        let factor = pow(2.0, -1.0 / 6)   // d = 2 dimensions
        XCTAssertEqual(b[0], 0.1855921454276674 * factor, accuracy: 1e-12)
        XCTAssertEqual(b[1], 0.75 * factor / 2, accuracy: 1e-12)
        // A clipped dimension is floored at the magic clip 1/min(100, n + 2): 1/4 for these two observations.
        let clipped = ParzenEstimator.bandwidths(kinds: [.numeric, .numeric], centres: [[0.2, 0.2], [0.4, 0.4]], clipped: [1])
        XCTAssertEqual(clipped[0], 0.1855921454276674 * factor, accuracy: 1e-12)
        XCTAssertEqual(clipped[1], 0.25, accuracy: 1e-12)
        XCTAssertEqual(ParzenEstimator.magicClip(observations: 500), 0.01, accuracy: 1e-15)
    }

    /// Linear forgetting by hand: the newest `recent` weigh 1, the older rise from 1/n to 1.
    func testForgettingWeightsByHand() {
        XCTAssertNil(TPE.forgettingWeights(3, recent: 25))
        XCTAssertNil(TPE.forgettingWeights(30, recent: 0))
        XCTAssertEqual(TPE.forgettingWeights(4, recent: 3), [0.25, 1, 1, 1])
        let w = try! XCTUnwrap(TPE.forgettingWeights(5, recent: 2))
        for (a, b) in zip(w, [0.2, 0.6, 1, 1, 1]) { XCTAssertEqual(a, b, accuracy: 1e-12) }
    }

    /// A weighted mixture by hand: components weighing 3 and 1 plus a prior of weight 1 (uniform,
    /// density 1): p(x) = (3·k(x | 0.2) + 1·k(x | 0.7) + 1) / 5.
    func testWeightedParzenDensityByHand() {
        let kde = ParzenEstimator(kinds: [.numeric], centres: [[0.2], [0.7]], bandwidths: [0.1], priorWeight: 1, weights: [3, 1])
        func k(_ x: Double, _ mu: Double) -> Double {
            let mass = normalCDF((1 - mu) / 0.1) - normalCDF(-mu / 0.1)
            return exp(-0.5 * pow((x - mu) / 0.1, 2)) / (0.1 * (2 * Double.pi).squareRoot()) / mass
        }
        XCTAssertEqual(kde.logDensity([0.3]), log((3 * k(0.3, 0.2) + k(0.3, 0.7) + 1) / 5), accuracy: 1e-12)
        // Without a prior, draws pick the first component three times as often as the second:
        // below 0.45 falls 3·0.9939 + 0.0062 of the weight 4, above it 3·0.0061 + 0.9938 (ratio 2.95).
        let unprior = ParzenEstimator(kinds: [.numeric], centres: [[0.2], [0.7]], bandwidths: [0.1], priorWeight: 0, weights: [3, 1])
        var rng = RandomSource(seed: 5)
        var below = 0
        for _ in 0..<20_000 where unprior.sample(using: &rng)[0] < 0.45 { below += 1 }
        XCTAssertEqual(Double(below) / Double(20_000 - below), 2.95, accuracy: 0.2)
    }

    /// Draws follow the density: a histogram of many draws matches l on ten cells.
    func testSamplesFollowTheDensity() {
        let kde = ParzenEstimator(kinds: [.numeric], centres: [[0.1], [0.7]], bandwidths: [0.15], priorWeight: 0.5)
        var rng = RandomSource(seed: 3)
        var counts = [Double](repeating: 0, count: 10)
        let draws = 20_000
        for _ in 0..<draws {
            let x = kde.sample(using: &rng)[0]
            XCTAssert((0...1).contains(x))
            counts[min(Int(x * 10), 9)] += 1
        }
        for cell in 0..<10 {
            // Midpoint rule on 20 points per cell.
            let expected = (0..<20).reduce(0.0) { $0 + exp(kde.logDensity([(Double(cell) + (Double($1) + 0.5) / 20) / 10])) } / 200
            XCTAssertEqual(counts[cell] / Double(draws), expected, accuracy: 0.012, "cell \(cell)")
        }
    }

    func testSplitByValueThenViolationAndByFrontThenContribution() {
        XCTAssertEqual(Set(TPESplit.good([[3], [1], [2], [0]], violations: [0, 0, 0, 0.5], count: 2)), [1, 2])
        XCTAssertEqual(Set(TPESplit.good([[3], [1]], violations: [0.2, 0.1], count: 1)), [1])
        // Front {0, 1, 2} is cut by hypervolume contribution.
        let points: [[Double]] = [[0, 4], [1, 1], [4, 0], [5, 5]]
        // Reference (5.5, 5.5), 10% of the range beyond the worst: contributions (1·1.5, 3·3,
        // 1.5·1), so the ends go first and the knee stays.
        XCTAssertEqual(Set(TPESplit.good(points, violations: [0, 0, 0, 0], count: 1)), [1])
        XCTAssertEqual(Set(TPESplit.good(points, violations: [0, 0, 0, 0], count: 3)), [0, 1, 2])
    }

    /// The archive-built leading fronts are the first fronts of the full non-dominated sort.
    func testLeadingFrontsMatchTheFullSort() {
        var rng = RandomSource(seed: 5)
        let points = (0..<200).map { _ in [rng.nextDouble(), rng.nextDouble(), (rng.nextDouble() * 4).rounded()] }
        let violations = (0..<200).map { _ in rng.nextDouble() < 0.2 ? rng.nextDouble() : 0 }
        let full = ParetoFront.sort(points, violations: violations)
        let leading = TPESplit.leadingFronts(points, violations: violations, covering: 25)
        XCTAssertGreaterThanOrEqual(leading.reduce(0) { $0 + $1.count }, 25)
        XCTAssertEqual(leading, Array(full.prefix(leading.count)))
    }

    private func sphere(_ c: Configuration, _ space: SearchSpace) -> Double {
        space.unit(of: c).reduce(0) { $0 + ($1 - 0.3) * ($1 - 0.3) }
    }

    /// On a 4-dimensional sphere TPE's best after 60 trials beats random search's on most seeds.
    func testBeatsRandomSearchOnASphere() throws {
        let space = SearchSpace.unitCube(4)
        var wins = 0
        for seed in UInt64(0)..<5 {
            func best(_ strategy: Strategy) throws -> Double {
                var best = Double.infinity
                for n in 0..<60 {
                    let c = try strategy.ask(number: n)
                    let f = sphere(c, space)
                    best = min(best, f)
                    strategy.tell(TrialResult(number: n, configuration: c, outcome: .complete, objectives: [f]))
                }
                return best
            }
            if try best(TPE(space: space, objectives: 1, seed: seed)) < best(RandomSearch(space: space, seed: seed)) { wins += 1 }
        }
        XCTAssertGreaterThanOrEqual(wins, 4)
    }

    /// Conditional groups: the options' own dimensions are modelled on the trials that used them,
    /// and a strongly better option is chosen most of the time once learned.
    func testConditionalSpaceLearnsTheBetterBranch() throws {
        let space = StrategyTests.mixedSpace
        let tpe = TPE(space: space, objectives: 1, seed: 4)
        var late = 0
        for n in 0..<80 {
            let c = try tpe.ask(number: n)
            for (d, v) in zip(space.dimensions, c.values) { XCTAssert(d.domain.contains(v), "\(d.name) = \(v)") }
            let family = Int(c.values[0])
            let f = (family == 1 ? 0 : 1) + space.unit(of: c)[5]
            if n >= 40, family == 1 { late += 1 }
            tpe.tell(TrialResult(number: n, configuration: c, outcome: .complete, objectives: [f]))
        }
        XCTAssertGreaterThan(late, 28, "the cnn branch is better by a whole unit")
    }

    /// Constant liar: asks made before any result of the batch is told differ, and repeated asks
    /// of the same trial number (a retry) give the same candidate.
    func testConstantLiarSpreadsParallelAsks() throws {
        let space = SearchSpace.unitCube(2)
        let tpe = TPE(space: space, objectives: 1, seed: 9)
        for n in 0..<20 {
            let c = try tpe.ask(number: n)
            tpe.tell(TrialResult(number: n, configuration: c, outcome: .complete, objectives: [sphere(c, space)]))
        }
        let batch = try (20..<24).map { try tpe.ask(number: $0) }
        XCTAssertEqual(Set(batch).count, 4)
    }

    /// MOTPE on a two-objective problem: all asks valid, hypervolume above random search's.
    func testMultiObjectiveBeatsRandomOnZDT1() throws {
        let problem = try BenchmarkProblem(name: "zdt1", variables: 5)
        func hv(_ strategy: Strategy) throws -> Double {
            var front: [[Double]] = []
            for n in 0..<60 {
                let c = try strategy.ask(number: n)
                let f = problem.evaluate(c.values)
                ParetoFront.insert(f, into: &front)
                strategy.tell(TrialResult(number: n, configuration: c, outcome: .complete, objectives: f))
            }
            return hypervolume(front, reference: [1.1, 1.1 * 10])
        }
        var wins = 0
        for seed in UInt64(0)..<3 {
            if try hv(TPE(space: .unitCube(5), objectives: 2, seed: seed)) > hv(RandomSearch(space: .unitCube(5), seed: seed)) { wins += 1 }
        }
        XCTAssertGreaterThanOrEqual(wins, 2)
    }
}
