import XCTest
@testable import Engine

/// The engine cuts large products into one single-threaded OpenBLAS call per thread (`sgemm`,
/// `GEMMCut`). OpenBLAS's edge tiles round differently from its full ones, so a slab's result may
/// differ from the unsplit product's in the last bit; the cut is fixed per thread count, so a
/// product must come out the same run to run, and both must match the exact sum.
final class GEMMSplitTests: XCTestCase {
    override func tearDown() {
        EngineThreads.set(1)
        super.tearDown()
    }

    func testSlabsByHand() {
        // 128 rows × 512 columns: columns are cut (op(A) is the smaller operand), 256 each.
        var plan = GEMMCut(m: 128, n: 512, k: 784, threads: 2)
        XCTAssertFalse(plan.byRows)
        XCTAssertEqual(plan.slabs, [0..<256, 256..<512])
        // 97 rows × 45 columns × 130 deep = 567,450 multiply-adds: rows are cut at 64, the first
        // multiple of 16 at or past half of 97.
        plan = GEMMCut(m: 97, n: 45, k: 130, threads: 2)
        XCTAssertTrue(plan.byRows)
        XCTAssertEqual(plan.slabs, [0..<64, 64..<97])
        // Three threads over 100 rows: shares of 34 rounded up to 48.
        XCTAssertEqual(GEMMCut(m: 100, n: 100, k: 100, threads: 3).slabs, [0..<48, 48..<96, 96..<100])
        // Below 262,144 multiply-adds, one thread, or fewer than 32 rows and columns: one slab.
        XCTAssertEqual(GEMMCut(m: 64, n: 64, k: 63, threads: 2).slabs, [0..<64])
        XCTAssertEqual(GEMMCut(m: 4096, n: 4096, k: 64, threads: 1).slabs, [0..<4096])
        XCTAssertEqual(GEMMCut(m: 31, n: 10, k: 100_000, threads: 2).slabs, [0..<31])
        XCTAssertEqual(GEMMCut(m: 32, n: 10, k: 100_000, threads: 2).slabs, [0..<16, 16..<32])
    }

    /// Every transpose pair, rows and columns cut, leading dimensions wider than the matrices, and
    /// alpha/beta: one and two threads match a double sum, two threads the same bits run to run,
    /// and no element past n in a row of C is written.
    func testSplitProductMatchesTheSumAndRepeats() {
        let shapes = [(97, 45, 130), (33, 200, 77), (150, 150, 12), (40, 1030, 19)]
        var rng = RandomSource(seed: 11)
        for (m, n, k) in shapes {
            for transA in [false, true] {
                for transB in [false, true] {
                    for (alpha, beta) in [(Float(1), Float(0)), (0.5, 1)] {
                        let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 5, ldc = n + 2
                        let a = (0..<(transA ? k : m) * lda).map { _ in rng.nextFloat() - 0.5 }
                        let b = (0..<(transB ? n : k) * ldb).map { _ in rng.nextFloat() - 0.5 }
                        let c0 = (0..<m * ldc).map { _ in rng.nextFloat() - 0.5 }
                        func product(threads: Int) -> [Float] {
                            EngineThreads.set(threads)
                            var c = c0
                            c.withUnsafeMutableBufferPointer { c in
                                sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a, lda: lda,
                                      b, ldb: ldb, beta: beta, c.baseAddress!, ldc: ldc)
                            }
                            return c
                        }
                        let one = product(threads: 1), two = product(threads: 2)
                        let label = "\(m)×\(n)×\(k) transA \(transA) transB \(transB) beta \(beta)"
                        XCTAssertEqual(two.map(\.bitPattern), product(threads: 2).map(\.bitPattern), "\(label): run to run")
                        for i in 0..<m {
                            for j in 0..<ldc {
                                guard j < n else {
                                    XCTAssertEqual(two[i * ldc + j], c0[i * ldc + j], "\(label): padding at (\(i), \(j)) written")
                                    continue
                                }
                                var sum = 0.0
                                for p in 0..<k {
                                    let x = transA ? a[p * lda + i] : a[i * lda + p]
                                    let y = transB ? b[j * ldb + p] : b[p * ldb + j]
                                    sum += Double(x) * Double(y)
                                }
                                let expected = Double(alpha) * sum + Double(beta) * Double(c0[i * ldc + j])
                                XCTAssertEqual(Double(two[i * ldc + j]), expected, accuracy: 1e-4, "\(label) at (\(i), \(j))")
                                XCTAssertEqual(Double(one[i * ldc + j]), expected, accuracy: 1e-4, "\(label) at (\(i), \(j)), one thread")
                            }
                        }
                    }
                }
            }
        }
    }
}
