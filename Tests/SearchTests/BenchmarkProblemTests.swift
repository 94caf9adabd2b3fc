import XCTest
import Engine
@testable import Search

final class BenchmarkProblemTests: XCTestCase {
    func testZDTWorkedValues() throws {
        let zdt1 = try BenchmarkProblem(name: "zdt1", variables: 30)
        // x = 0.5 everywhere: g = 1 + 9·0.5 = 5.5, f₂ = 5.5·(1 − √(0.5/5.5)).
        let f = zdt1.evaluate([Double](repeating: 0.5, count: 30))
        XCTAssertEqual(f[0], 0.5)
        XCTAssertEqual(f[1], 5.5 * (1 - (0.5 / 5.5).squareRoot()), accuracy: 1e-12)
        // On the optimal front (x₂…ₙ = 0), f₂ = 1 − √f₁ (ZDT1), 1 − f₁² (ZDT2).
        var x = [Double](repeating: 0, count: 30)
        x[0] = 0.25
        XCTAssertEqual(zdt1.evaluate(x), [0.25, 0.5])
        XCTAssertEqual(try BenchmarkProblem(name: "zdt2", variables: 30).evaluate(x), [0.25, 1 - 0.0625])
        XCTAssertEqual(try BenchmarkProblem(name: "zdt3", variables: 30).evaluate(x)[1], 1 - 0.5 - 0.25 * sin(2.5 * .pi), accuracy: 1e-12)
        var x4 = [Double](repeating: 0, count: 10)
        x4[0] = 0.25
        XCTAssertEqual(try BenchmarkProblem(name: "zdt4", variables: 10).evaluate(x4)[1], 1 - 0.5, accuracy: 1e-12, "g = 1 + 10·9 − 10·9 = 1")
        let zdt6 = try BenchmarkProblem(name: "zdt6", variables: 10)
        let f6 = zdt6.evaluate([Double](repeating: 0, count: 10))
        XCTAssertEqual(f6, [1, 0], "f₁ = 1 − e⁰·sin⁶(0) = 1, g = 1, f₂ = 1 − 1²")
        XCTAssertEqual(try BenchmarkProblem(name: "zdt4", variables: 10).bounds(3), -5...5)
    }

    func testDTLZOptimalFrontsLieOnTheirKnownSurfaces() throws {
        var rng = RandomSource(seed: 3)
        for m in [2, 3, 5] {
            let n = m + 9
            for _ in 0..<20 {
                var x = (0..<n).map { _ in rng.nextDouble() }
                for i in (m - 1)..<n { x[i] = 0.5 }   // g = 0 on the optimal front
                let dtlz1 = try BenchmarkProblem(name: "dtlz1", variables: n, objectives: m).evaluate(x)
                XCTAssertEqual(dtlz1.reduce(0, +), 0.5, accuracy: 1e-12, "DTLZ1: Σf = 0.5")
                for name in ["dtlz2", "dtlz3", "dtlz4", "dtlz5"] {
                    let f = try BenchmarkProblem(name: name, variables: n, objectives: m).evaluate(x)
                    XCTAssertEqual(f.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-12, "\(name): Σf² = 1")
                }
                var x6 = x
                for i in (m - 1)..<n { x6[i] = 0 }
                let f6 = try BenchmarkProblem(name: "dtlz6", variables: n, objectives: m).evaluate(x6)
                XCTAssertEqual(f6.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-12, "DTLZ6: Σf² = 1 at x_M = 0")
                let f7 = try BenchmarkProblem(name: "dtlz7", variables: n, objectives: m).evaluate(x6)
                let h = Double(m) - f7.dropLast().reduce(0) { $0 + $1 / 2 * (1 + sin(3 * .pi * $1)) }
                XCTAssertEqual(f7.last!, 2 * h, accuracy: 1e-12, "DTLZ7: g = 1 at x_M = 0")
            }
        }
    }

    func testBadProblemsAreNamed() {
        XCTAssertThrowsError(try BenchmarkProblem(name: "ztd1", variables: 30)) {
            XCTAssertTrue("\($0)".hasSuffix("Did you mean 'zdt1'?"), "\($0)")
        }
        XCTAssertThrowsError(try BenchmarkProblem(name: "dtlz2", variables: 2, objectives: 3)) {
            XCTAssertEqual("\($0)", "evaluator.benchmark.variables: dtlz2 needs at least 3 variables, got 2")
        }
        XCTAssertThrowsError(try BenchmarkProblem(name: "zdt1", variables: 30, objectives: 3))
    }
}
