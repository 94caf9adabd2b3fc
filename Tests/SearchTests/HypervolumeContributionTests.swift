import XCTest
import Engine
@testable import Search

final class HypervolumeContributionTests: XCTestCase {
    func testTwoObjectivesByHand() {
        // Sorted by f1: each point owns the rectangle to its right neighbour's f1 and its left neighbour's f2.
        // [1, 3]: (2 − 1)·(4 − 3) = 1; [2, 2]: (3 − 2)·(3 − 2) = 1; [3, 1]: (4 − 3)·(2 − 1) = 1.
        XCTAssertEqual(hypervolumeContributions([[1, 3], [2, 2], [3, 1]], reference: [4, 4]), [1, 1, 1])
        // [0, 3] extends to the reference's f2 of 5: (1 − 0)·(5 − 3) = 2; [1, 1]: (4 − 1)·(3 − 1) = 6.
        XCTAssertEqual(hypervolumeContributions([[1, 1], [0, 3]], reference: [4, 5]), [6, 2])
        XCTAssertEqual(hypervolumeContributions([[1, 1], [5, 0]], reference: [4, 4]), [9, 0], "outside the reference")
    }

    func testThreeObjectivesByHand() {
        // The three unit-overlap boxes of the hypervolume test: each of [0,1,1], [1,0,1], [1,1,0]
        // dominates a 2×1×1 box below [2,2,2]; the union is 4, so each owns 4 − (the other two's union 3) = 1.
        XCTAssertEqual(hypervolumeContributions([[0, 1, 1], [1, 0, 1], [1, 1, 0]], reference: [2, 2, 2]), [1, 1, 1])
        XCTAssertEqual(hypervolumeContributions([[1, 1, 1]], reference: [2, 3, 4]), [6])
    }

    /// Every point's contribution equals the hypervolume lost without it, on random fronts.
    func testMatchesLeaveOneOutHypervolume() {
        var rng = RandomSource(seed: 11)
        for d in 2...4 {
            for _ in 0..<20 {
                // Points on a sphere octant (mutually non-dominated), a few pushed past the reference.
                let points: [[Double]] = (0..<(3 + rng.nextInt(below: 25))).map { _ in
                    var v = (0..<d).map { _ in rng.nextDouble() + 0.05 }
                    let r = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
                    v = v.map { $0 / r }
                    if rng.nextInt(below: 10) == 0 { v[0] = 1.3 }
                    return v
                }
                let reference = [Double](repeating: 1.2, count: d)
                let total = hypervolume(points, reference: reference)
                let contributions = hypervolumeContributions(points, reference: reference)
                for i in points.indices {
                    var rest = points
                    rest.remove(at: i)
                    XCTAssertEqual(contributions[i], total - hypervolume(rest, reference: reference), accuracy: 1e-12, "d = \(d), point \(i)")
                }
            }
        }
    }
}
