import XCTest
import Engine
@testable import Search

final class ParetoTests: XCTestCase {
    func testDominance() {
        XCTAssertTrue(ParetoFront.dominates([1, 2], [2, 2]))
        XCTAssertFalse(ParetoFront.dominates([1, 2], [1, 2]), "equal points do not dominate")
        XCTAssertFalse(ParetoFront.dominates([1, 3], [2, 2]))
        // Deb: feasible beats infeasible; infeasible compare by violation.
        XCTAssertTrue(ParetoFront.constrainedDominates([9, 9], violation: 0, [0, 0], violation: 0.1))
        XCTAssertTrue(ParetoFront.constrainedDominates([9, 9], violation: 0.1, [0, 0], violation: 0.2))
        XCTAssertFalse(ParetoFront.constrainedDominates([0, 0], violation: 0.2, [9, 9], violation: 0.1))
    }

    func testNonDominatedSortingByHand() {
        let points: [[Double]] = [[1, 5], [2, 3], [4, 1], [3, 4], [5, 5], [2, 3]]
        XCTAssertEqual(ParetoFront.sort(points), [[0, 1, 2, 5], [3], [4]])
        XCTAssertEqual(ParetoFront.sort(points, violations: [0, 0, 1, 0, 0, 0]), [[0, 1, 5], [3], [4], [2]])
        XCTAssertEqual(ParetoFront.sort([]), [])
    }

    func testCrowdingDistanceByHand() {
        let points: [[Double]] = [[0, 4], [1, 2], [2, 1], [4, 0]]
        let d = ParetoFront.crowdingDistance([0, 1, 2, 3], in: points)
        XCTAssertEqual(d[0], .infinity)
        XCTAssertEqual(d[3], .infinity)
        // Point 1: (2 − 0)/4 + (4 − 1)/4 = 1.25; point 2: (4 − 1)/4 + (2 − 0)/4 = 1.25.
        XCTAssertEqual(d[1], 1.25, accuracy: 1e-12)
        XCTAssertEqual(d[2], 1.25, accuracy: 1e-12)
    }

    func testHypervolumeWorkedExamples() {
        XCTAssertEqual(hypervolume([[1, 2], [2, 1]], reference: [3, 3]), 3)
        XCTAssertEqual(hypervolume([[1, 2], [2, 1], [2.5, 2.5], [4, 0]], reference: [3, 3]), 3, "dominated and outside points add nothing")
        XCTAssertEqual(hypervolume([[1, 1, 1]], reference: [2, 3, 4]), 6)
        // Three 2×1×1 boxes that overlap pairwise (and all three) in the unit cube [1, 2]³.
        XCTAssertEqual(hypervolume([[0, 1, 1], [1, 0, 1], [1, 1, 0]], reference: [2, 2, 2]), 3 * 2 - 3 * 1 + 1)
        XCTAssertEqual(hypervolume([[0.5], [0.2]], reference: [1]), 0.8, accuracy: 1e-12)
        XCTAssertEqual(hypervolume([], reference: [1, 1]), 0)
    }

    /// The dense true front of ZDT1 (f₂ = 1 − √f₁) with reference 1.1: ∫₀¹(0.1 + √x)dx + 0.11 = 0.87667.
    func testZDT1TrueFrontHypervolume() {
        let n = 2000
        let front = (0...n).map { i -> [Double] in let x = Double(i) / Double(n); return [x, 1 - x.squareRoot()] }
        XCTAssertEqual(hypervolume(front, reference: [1.1, 1.1]), 0.1 + 2.0 / 3.0 + 0.11, accuracy: 1e-3)
    }

    /// Exact hypervolume by inclusion–exclusion over subsets (the union of boxes), for small sets.
    private func inclusionExclusion(_ points: [[Double]], _ reference: [Double]) -> Double {
        var total = 0.0
        for mask in 1..<(1 << points.count) {
            var corner = [Double](repeating: -.infinity, count: reference.count)
            var size = 0
            for (i, p) in points.enumerated() where mask & (1 << i) != 0 {
                size += 1
                for m in corner.indices { corner[m] = max(corner[m], p[m]) }
            }
            let volume = zip(corner, reference).reduce(1.0) { $0 * max(0, $1.1 - $1.0) }
            total += size % 2 == 1 ? volume : -volume
        }
        return total
    }

    func testHypervolumeMatchesInclusionExclusionInTwoToFiveDimensions() {
        var rng = RandomSource(seed: 11)
        for d in 2...5 {
            for _ in 0..<20 {
                let points = (0..<(3 + rng.nextInt(below: 6))).map { _ in (0..<d).map { _ in rng.nextDouble() } }
                let reference = [Double](repeating: 1.1, count: d)
                XCTAssertEqual(hypervolume(points, reference: reference), inclusionExclusion(points, reference), accuracy: 1e-12, "d = \(d)")
            }
        }
    }

    func testThreeObjectiveFrontOfAThousandPointsIsQuickAndBounded() {
        var rng = RandomSource(seed: 5)
        // Points on the unit sphere's positive octant (DTLZ2's front).
        let points = (0..<1000).map { _ -> [Double] in
            let v = (0..<3).map { _ in abs(Double(rng.nextNormal())) + 1e-9 }
            let norm = (v.reduce(0) { $0 + $1 * $1 }).squareRoot()
            return v.map { $0 / norm }
        }
        let hv = hypervolume(points, reference: [1.1, 1.1, 1.1])
        // The true DTLZ2 front gives 1.331 − π/6 ≈ 0.8074; a finite sample stays below it.
        XCTAssertLessThan(hv, 1.331 - Double.pi / 6 + 1e-9)
        XCTAssertGreaterThan(hv, 0.75)
    }
}

final class HypervolumeHistoryTests: XCTestCase {
    func testCheckpointsAndSkippedEntries() {
        // (0.5, 0.5) covers 0.25 of the unit box; (0.25, 0.75) adds 0.0625; nil adds nothing.
        let h = hypervolumeHistory([[0.5, 0.5], nil, [0.25, 0.75], [0.6, 0.6]], reference: [1, 1], checkpoints: 4)
        XCTAssertEqual(h.map(\.count), [1, 2, 3, 4])
        for (got, want) in zip(h.map(\.hypervolume), [0.25, 0.25, 0.3125, 0.3125]) { XCTAssertEqual(got, want, accuracy: 1e-12) }
        XCTAssertEqual(hypervolumeHistory([[0.5, 0.5], nil, [0.25, 0.75], [0.6, 0.6]], reference: [1, 1], checkpoints: 3).map(\.count),
                       [2, 3, 4], "ceil(k·4/3) for k = 1, 2, 3")
        XCTAssertTrue(hypervolumeHistory([], reference: [1, 1], checkpoints: 3).isEmpty)
    }
}
