import Foundation
import XCTest
import Engine
@testable import Compression

final class LowRankTests: XCTestCase {
    private func randomMatrix(_ rows: Int, _ columns: Int, seed: UInt64) -> [Float] {
        var rng = RandomSource(seed: seed)
        return (0..<(rows * columns)).map { _ in rng.nextNormal() }
    }

    /// (m, k)·(k, n), row-major, in Double.
    private func multiply(_ a: [Float], _ b: [Float], _ m: Int, _ k: Int, _ n: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for p in 0..<k {
                for j in 0..<n { c[i * n + j] += Double(a[i * k + p]) * Double(b[p * n + j]) }
            }
        }
        return c
    }

    private func squaredDistance(_ a: [Float], _ b: [Double]) -> Double {
        zip(a, b).reduce(0) { $0 + (Double($1.0) - $1.1) * (Double($1.0) - $1.1) }
    }

    private let shapes = [(12, 8), (8, 12), (7, 7), (1, 5), (5, 1)]

    func testSingularValuesOfADiagonalMatrix() throws {
        let svd = try SingularValueDecomposition(matrix: [3, 0, 0, 0, -4, 0], rows: 2, columns: 3)
        XCTAssertEqual(svd.components, 2)
        XCTAssertEqual(svd.singularValues[0], 4, accuracy: 1e-6)
        XCTAssertEqual(svd.singularValues[1], 3, accuracy: 1e-6)
        XCTAssertEqual(svd.u.count, 4)
        XCTAssertEqual(svd.vt.count, 6)
        // The first right singular vector is ±e₂, the second ±e₁.
        XCTAssertEqual(abs(svd.vt[1]), 1, accuracy: 1e-6)
        XCTAssertEqual(abs(svd.vt[3]), 1, accuracy: 1e-6)
    }

    func testDecompositionIsOrthonormalDescendingAndExact() throws {
        for (index, (m, n)) in shapes.enumerated() {
            let a = randomMatrix(m, n, seed: UInt64(10 + index))
            let svd = try SingularValueDecomposition(matrix: a, rows: m, columns: n)
            let r = min(m, n)
            XCTAssertEqual(svd.singularValues.count, r)
            for i in 1..<r { XCTAssertGreaterThanOrEqual(svd.singularValues[i - 1], svd.singularValues[i]) }
            for p in 0..<r {
                for q in 0..<r {
                    var uu = 0.0, vv = 0.0
                    for i in 0..<m { uu += Double(svd.u[i * r + p]) * Double(svd.u[i * r + q]) }
                    for j in 0..<n { vv += Double(svd.vt[p * n + j]) * Double(svd.vt[q * n + j]) }
                    XCTAssertEqual(uu, p == q ? 1 : 0, accuracy: 1e-5, "UᵀU at \(p),\(q) for \(m)×\(n)")
                    XCTAssertEqual(vv, p == q ? 1 : 0, accuracy: 1e-5, "VᵀV at \(p),\(q) for \(m)×\(n)")
                }
            }
            var us = svd.u
            for i in 0..<m { for p in 0..<r { us[i * r + p] *= svd.singularValues[p] } }
            let back = multiply(us, svd.vt, m, r, n)
            XCTAssertLessThan(squaredDistance(a, back).squareRoot(), 1e-4, "U·Σ·Vᵀ for \(m)×\(n)")
        }
    }

    func testFullRankFactorizationReconstructs() throws {
        for (index, (m, n)) in shapes.enumerated() {
            let w = randomMatrix(m, n, seed: UInt64(20 + index))
            let f = try factorize(w, rows: m, columns: n, choice: .rank(min(m, n)))
            XCTAssertEqual(f.rank, min(m, n))
            XCTAssertEqual(f.left.count, m * f.rank)
            XCTAssertEqual(f.right.count, f.rank * n)
            let back = multiply(f.left, f.right, m, f.rank, n)
            for (x, y) in zip(w, back) { XCTAssertEqual(Double(x), y, accuracy: 1e-4) }
            XCTAssertEqual(f.discardedEnergy, 0, accuracy: 1e-12)
        }
    }

    func testTruncationErrorIsTheDiscardedEnergy() throws {
        for (index, (m, n)) in shapes.enumerated() where min(m, n) > 1 {
            let w = randomMatrix(m, n, seed: UInt64(30 + index))
            let sv = try SingularValueDecomposition(matrix: w, rows: m, columns: n).singularValues.map(Double.init)
            let norm2 = w.reduce(0) { $0 + Double($1) * Double($1) }
            for r in 1..<min(m, n) {
                let f = try factorize(w, rows: m, columns: n, choice: .rank(r))
                let error2 = squaredDistance(w, multiply(f.left, f.right, m, r, n))
                let tail = sv[r...].reduce(0) { $0 + $1 * $1 }
                XCTAssertEqual(error2, tail, accuracy: 1e-4 * norm2, "Eckart–Young at rank \(r) of \(m)×\(n)")
                XCTAssertEqual(f.discardedEnergy, tail / norm2, accuracy: 1e-5)
            }
        }
    }

    func testMatrixOfKnownRankIsRecoveredAtThatRank() throws {
        for (m, n) in [(10, 6), (6, 10)] {
            let k = 3
            let product = multiply(randomMatrix(m, k, seed: 41), randomMatrix(k, n, seed: 42), m, k, n)
            let w = product.map { Float($0) }
            let sv = try SingularValueDecomposition(matrix: w, rows: m, columns: n).singularValues
            for i in k..<min(m, n) { XCTAssertLessThan(sv[i], 1e-5 * sv[0], "σ\(i + 1) of a rank-3 matrix") }
            let f = try factorize(w, rows: m, columns: n, choice: .rank(k))
            let back = multiply(f.left, f.right, m, k, n)
            for (x, y) in zip(w, back) { XCTAssertEqual(Double(x), y, accuracy: 1e-4) }
            XCTAssertEqual(try factorize(w, rows: m, columns: n, choice: .energy(0.999999)).rank, k)
        }
    }

    func testEnergyChoiceOnHandMadeSingularValues() {
        // Energies 16 and 9 of 25.
        XCTAssertEqual(chooseRank([4, 3], .energy(0.64)), 1)
        XCTAssertEqual(chooseRank([4, 3], .energy(0.65)), 2)
        // Energies 25, 16, 4, 1 of 46: cumulative 25, 41, 45, 46.
        let sv: [Float] = [5, 4, 2, 1]
        XCTAssertEqual(chooseRank(sv, .energy(0.5)), 1)
        XCTAssertEqual(chooseRank(sv, .energy(41.0 / 46.0)), 2)
        XCTAssertEqual(chooseRank(sv, .energy(0.9)), 3)
        XCTAssertEqual(chooseRank(sv, .energy(0.99)), 4)
        XCTAssertEqual(chooseRank(sv, .energy(1)), 4)
        XCTAssertEqual(chooseRank(sv, .energy(0)), 1)
        XCTAssertEqual(chooseRank([0, 0, 0], .energy(0.9)), 1)
        XCTAssertEqual(chooseRank(sv, .rank(2)), 2)
        XCTAssertEqual(chooseRank(sv, .rank(9)), 4)
        XCTAssertEqual(chooseRank([], .rank(2)), 0)
    }

    func testWorthFactorizing() {
        XCTAssertTrue(worthFactorizing(rows: 100, columns: 100, rank: 49))     // 9800 < 10000
        XCTAssertFalse(worthFactorizing(rows: 100, columns: 100, rank: 50))    // 10000
        XCTAssertTrue(worthFactorizing(rows: 512, columns: 64, rank: 56))      // 32256 < 32768
        XCTAssertFalse(worthFactorizing(rows: 512, columns: 64, rank: 57))
    }

    func testBadInputThrows() {
        XCTAssertThrowsError(try factorize([1, 2, 3], rows: 2, columns: 2, choice: .rank(1))) { error in
            XCTAssertEqual((error as? FactorizationError)?.reason, "matrix has 3 values, expected 2×2 = 4")
        }
        XCTAssertThrowsError(try factorize([1, .nan, 3, 4], rows: 2, columns: 2, choice: .rank(1))) { error in
            XCTAssertEqual((error as? FactorizationError)?.reason, "matrix value at row 0, column 1 is nan")
        }
        XCTAssertThrowsError(try factorize([1, 2, 3, 4], rows: 2, columns: 2, choice: .rank(0))) { error in
            XCTAssertEqual((error as? FactorizationError)?.reason, "rank must be at least 1, got 0")
        }
        XCTAssertThrowsError(try factorize([1, 2, 3, 4], rows: 2, columns: 2, choice: .energy(1.5)))
        XCTAssertThrowsError(try SingularValueDecomposition(matrix: [], rows: 0, columns: 3))
    }

    func testRankChoiceJSON() throws {
        func decode(_ json: String) throws -> RankChoice {
            try JSONDecoder().decode(RankChoice.self, from: Data(json.utf8))
        }
        XCTAssertEqual(try decode(#"{"rank": 16}"#), .rank(16))
        XCTAssertEqual(try decode(#"{"energy": 0.9}"#), .energy(0.9))
        for choice in [RankChoice.rank(3), .energy(0.75)] {
            XCTAssertEqual(try decode(String(decoding: try JSONEncoder().encode(choice), as: UTF8.self)), choice)
        }
        let cases: [(String, ConfigError)] = [
            (#"{"energy": 1.5}"#, ConfigError(keyPath: "energy", reason: "must be between 0 and 1, got 1.5")),
            (#"{"rank": 0}"#, ConfigError(keyPath: "rank", reason: "must be at least 1, got 0")),
            (#"{"rank": "big"}"#, ConfigError(keyPath: "rank", reason: "expected a whole number")),
            (#"{"rank": 2, "energy": 0.5}"#, ConfigError(keyPath: "", reason: "expected exactly one of rank, energy, got energy, rank")),
            (#"{}"#, ConfigError(keyPath: "", reason: "expected exactly one of rank, energy, got none")),
        ]
        for (json, expected) in cases {
            XCTAssertThrowsError(try decode(json), json) { XCTAssertEqual($0 as? ConfigError, expected, json) }
        }
        XCTAssertThrowsError(try decode(#"{"rnak": 2}"#)) { error in
            let e = error as? ConfigError
            XCTAssertEqual(e?.keyPath, "rnak")
            XCTAssertTrue(e?.reason.contains("Did you mean 'rank'?") ?? false, "\(error)")
        }
    }
}
