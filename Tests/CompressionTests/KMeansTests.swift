import Foundation
import XCTest
import Engine
@testable import Compression

final class KMeansTests: XCTestCase {
    /// A mixture: a wide normal plus a few large weights, like a trained layer.
    private func weights(_ n: Int, seed: UInt64) -> [Float] {
        var rng = RandomSource(seed: seed)
        return (0..<n).map { i in i % 50 == 0 ? 3 * rng.nextNormal() : 0.3 * rng.nextNormal() }
    }

    private func codebook(_ w: [Float], clusters: Int, iterations: Int = 30, seed: UInt64 = 1,
                          _ initialization: KMeansInitialization = .linear) -> Codebook {
        w.withUnsafeBufferPointer {
            kMeansCodebook($0.baseAddress!, count: w.count, clusters: clusters, iterations: iterations,
                           seed: seed, initialization: initialization)
        }
    }

    private func objective(_ w: [Float], _ book: Codebook) -> Double {
        w.withUnsafeBufferPointer { kMeansObjective($0.baseAddress!, count: w.count, codebook: book) }
    }

    /// Centroids ascending and every weight at its nearest centroid.
    private func assertConsistent(_ w: [Float], _ book: Codebook, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(book.assignments.count, w.count, file: file, line: line)
        for j in 1..<max(book.centroids.count, 1) {
            XCTAssertLessThan(book.centroids[j - 1], book.centroids[j], "centroids not ascending", file: file, line: line)
        }
        for (i, x) in w.enumerated() {
            let own = abs(x - book.value(at: i))
            let best = book.centroids.map { abs(x - $0) }.min()!
            if own > best + 1e-6 {
                XCTFail("weight \(i) = \(x) is \(own) from its centroid, \(best) from the nearest", file: file, line: line)
                return
            }
        }
    }

    func testSameSeedSameCodebook() {
        let w = weights(4000, seed: 3)
        for initialization in KMeansInitialization.allCases {
            let a = codebook(w, clusters: 8, seed: 11, initialization)
            XCTAssertEqual(a, codebook(w, clusters: 8, seed: 11, initialization))
            assertConsistent(w, a)
        }
        // Linear initialisation uses no randomness.
        XCTAssertEqual(codebook(w, clusters: 8, seed: 11), codebook(w, clusters: 8, seed: 12))
        // k-means++ seeds from the seed: other seeds start elsewhere.
        let start = codebook(w, clusters: 8, iterations: 0, seed: 11, .kMeansPlusPlus).centroids
        let others = (12...15).map { codebook(w, clusters: 8, iterations: 0, seed: UInt64($0), .kMeansPlusPlus).centroids }
        XCTAssertTrue(others.contains { $0 != start })
    }

    func testWellSeparatedClustersAreRecovered() {
        var rng = RandomSource(seed: 5)
        let centres: [Float] = [-3, 0.5, 4]
        var w: [Float] = [], group: [Int] = []
        for i in 0..<900 {
            let g = (i * 7) % 3
            w.append(centres[g] + 0.01 * (rng.nextFloat() - 0.5))
            group.append(g)
        }
        var means = [Double](repeating: 0, count: 3)
        for (x, g) in zip(w, group) { means[g] += Double(x) / 300 }
        for initialization in KMeansInitialization.allCases {
            let book = codebook(w, clusters: 3, seed: 9, initialization)
            XCTAssertEqual(book.centroids.count, 3)
            for j in 0..<3 { XCTAssertEqual(Double(book.centroids[j]), means[j], accuracy: 1e-5, "\(initialization)") }
            XCTAssertEqual(book.assignments.map(Int.init), group, "\(initialization)")
        }
    }

    func testObjectiveNeverIncreases() {
        let w = weights(3000, seed: 7)
        for initialization in KMeansInitialization.allCases {
            var previous = Double.infinity
            for iterations in 0...20 {
                let value = objective(w, codebook(w, clusters: 8, iterations: iterations, seed: 4, initialization))
                XCTAssertLessThanOrEqual(value, previous * (1 + 1e-9), "\(initialization) after \(iterations) iterations")
                previous = value
            }
            // Lloyd improves a lot on linear spacing over a skewed distribution.
            let first = objective(w, codebook(w, clusters: 8, iterations: 0, seed: 4, initialization))
            XCTAssertLessThan(previous, first, "\(initialization)")
        }
    }

    func testEmptyClustersAreRefilled() {
        // Linear spacing over [0, 10] leaves clusters near 3.3 and 6.7 empty.
        let w: [Float] = [0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 10]
        let book = codebook(w, clusters: 4)
        XCTAssertEqual(book, codebook(w, clusters: 4))
        XCTAssertEqual(book.centroids.count, 4)
        XCTAssertEqual(Set(book.assignments).count, 4, "every cluster used: \(book)")
        XCTAssertEqual(book.centroids.last, 10)
        assertConsistent(w, book)
    }

    func testFewDistinctValuesBecomeTheCodebook() {
        let w: [Float] = [2, 1, 2, 5, 1, 2]
        for clusters in [3, 4, 16] {
            let book = codebook(w, clusters: clusters)
            XCTAssertEqual(book.centroids, [1, 2, 5])
            XCTAssertEqual(book.assignments, [1, 0, 1, 2, 0, 1])
            XCTAssertEqual(objective(w, book), 0)
        }
        let one = codebook([0.5, 0.5], clusters: 4, .kMeansPlusPlus)
        XCTAssertEqual(one.centroids, [0.5])
        XCTAssertEqual(one.bitsPerIndex, 0)
        XCTAssertEqual(codebook([], clusters: 4), Codebook(centroids: [], assignments: []))
        // A single cluster is the mean.
        XCTAssertEqual(codebook([1, 2, 6], clusters: 1).centroids, [3])
    }

    func testInitializationNamesInJSON() throws {
        let decoded = try JSONDecoder().decode([KMeansInitialization].self, from: Data(#"["linear", "k-means++"]"#.utf8))
        XCTAssertEqual(decoded, [.linear, .kMeansPlusPlus])
        XCTAssertThrowsError(try JSONDecoder().decode([KMeansInitialization].self, from: Data(#"["kmeans++"]"#.utf8))) { error in
            XCTAssertTrue((error as? ConfigError)?.reason.contains("Did you mean 'k-means++'?") ?? false, "\(error)")
        }
    }

    func testCentroidGradientsSumPerCluster() {
        let book = Codebook(centroids: [-1, 0, 1], assignments: [0, 2, 2, 1, 0, 2])
        let grad: [Float] = [0.5, 1, -2, 4, 0.25, 3]
        let sums = grad.withUnsafeBufferPointer { centroidGradients($0.baseAddress!, count: 6, codebook: book) }
        XCTAssertEqual(sums, [0.75, 4, 2])
    }

    func testReconstructWritesSharedValues() {
        let book = Codebook(centroids: [-0.5, 0.25, 2], assignments: [2, 0, 1, 1])
        var out = [Float](repeating: 9, count: 4)
        out.withUnsafeMutableBufferPointer { reconstruct(book, into: $0.baseAddress!) }
        XCTAssertEqual(out, [2, -0.5, 0.25, 0.25])
        XCTAssertEqual(Codebook(centroids: Array(repeating: 0, count: 16), assignments: []).bitsPerIndex, 4)
        XCTAssertEqual(Codebook(centroids: Array(repeating: 0, count: 17), assignments: []).bitsPerIndex, 5)
    }

    func testManyWeightsSpanSeveralBlocks() {
        // More than one assignment block, so the per-block sums are combined.
        let w = weights(150_000, seed: 13)
        let book = codebook(w, clusters: 16, iterations: 10)
        XCTAssertEqual(book.centroids.count, 16)
        var counts = [Int](repeating: 0, count: 16)
        for a in book.assignments { counts[Int(a)] += 1 }
        XCTAssertFalse(counts.contains(0))
        assertConsistent(w, book)
        XCTAssertLessThan(objective(w, book), objective(w, codebook(w, clusters: 16, iterations: 0)))
    }
}
