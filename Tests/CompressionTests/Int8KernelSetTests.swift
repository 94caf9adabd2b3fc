import XCTest
import Engine
@testable import Compression

/// Every int8 kernel set this CPU runs, forced one at a time, against the portable C kernels: the
/// GEMM's sums and the quantized layers' outputs must be bit-identical on shapes with remainders in
/// every dimension (rows past the register tile, columns past a 16-column panel, odd depths). Sets
/// the CPU lacks are skipped with a note.
final class Int8KernelSetTests: XCTestCase {
    private var stores: [ParameterStore] = []

    /// The supported sets other than the portable reference; a note names the skipped ones once.
    private func fastSets() -> [KernelSet] { Self.fastSets }

    private static let fastSets: [KernelSet] = {
        let skipped = KernelSet.allCases.filter { !$0.isSupported }
        if !skipped.isEmpty {
            print("note: kernel sets not supported by this CPU, not tested here: \(skipped.map(\.name).joined(separator: ", "))")
        }
        return KernelSet.allCases.filter { $0 != .portable && $0.isSupported }
    }()

    func testPortableAndBestAreSupported() {
        XCTAssertTrue(KernelSet.portable.isSupported)
        XCTAssertTrue(KernelSet.best.isSupported)
        XCTAssertEqual(KernelSet.allCases.filter(\.isSupported).max { $0.rawValue < $1.rawValue }, KernelSet.best)
    }

    func testPortableGEMMMatchesTripleLoop() {
        var rng = RandomSource(seed: 21)
        for (m, n, k) in [(1, 1, 1), (5, 17, 3), (13, 16, 2), (25, 33, 63)] {
            let lda = k + 2, ldb = k + 5, ldc = n + 1
            let a = RandomFixtures.codes(m * lda, &rng), b = RandomFixtures.codes(n * ldb, &rng)
            var c = [Int32](repeating: -9, count: m * ldc)
            int8GEMM(m: m, n: n, k: k, a, lda: lda, b, ldb: ldb, &c, ldc: ldc, kernels: .portable)
            for i in 0..<m {
                for j in 0..<n {
                    var s: Int32 = 0
                    for p in 0..<k { s += Int32(a[i * lda + p]) * Int32(b[j * ldb + p]) }
                    XCTAssertEqual(c[i * ldc + j], s, "C[\(i), \(j)] of \(m)×\(n)×\(k)")
                }
                XCTAssertEqual(c[i * ldc + n], -9, "padding of C row \(i) overwritten")
            }
        }
    }

    func testEverySetMatchesPortableGEMMBitForBit() {
        var rng = RandomSource(seed: 8)
        // One row (its own kernel, also with fewer columns than a panel and depths that are not a
        // multiple of 4), rows around the 4-, 6- and 12-row tiles and the 48-row chunks; columns
        // around 16-column panels; odd and even depths, one past a pair, and extreme codes.
        let shapes = [(1, 1, 1), (1, 40, 77), (1, 9, 6), (1, 15, 3), (2, 3, 5), (5, 15, 3), (6, 16, 4), (7, 17, 2),
                      (11, 31, 255), (12, 5, 13), (13, 33, 64), (49, 47, 97), (61, 100, 1001), (97, 18, 1030)]
        for set in fastSets() {
            for (m, n, k) in shapes {
                let lda = k + 3, ldb = k + 1, ldc = n + 2
                var a = RandomFixtures.codes(m * lda, &rng), b = RandomFixtures.codes(n * ldb, &rng)
                a[0] = -128; b[0] = -128; if a.count > 1 { a[1] = 127 }
                var reference = [Int32](repeating: -7, count: m * ldc), c = reference
                int8GEMM(m: m, n: n, k: k, a, lda: lda, b, ldb: ldb, &reference, ldc: ldc, kernels: .portable)
                int8GEMM(m: m, n: n, k: k, a, lda: lda, b, ldb: ldb, &c, ldc: ldc, kernels: set)
                XCTAssertEqual(c, reference, "\(set.name) differs from portable on \(m)×\(n)×\(k)")
            }
        }
    }

    func testEverySetGivesTheSameLinearOutputAsPortable() throws {
        var rng = RandomSource(seed: 13)
        for (inputs, outputs, rows) in [(37, 19, 7), (100, 33, 50), (9, 1, 1)] {
            let linear = makeLinear(inputs, outputs, &rng)
            let x = Tensor(RandomFixtures.values(rows * inputs, &rng), shape: [rows, inputs], context: linear.weight.value.context)
            for input in [Int8InputQuantization.dynamic,
                          .calibrated(AffineQuantization(scale: [0.01], zeroPoint: [-7], qmin: -128, qmax: 127))] {
                let q = try QuantizedLinear(linear, input: input)
                q.kernels = .portable
                let reference = q(x).array
                for set in fastSets() {
                    q.kernels = set
                    XCTAssertEqual(bits(q(x).array), bits(reference), "\(set.name): linear \(inputs)→\(outputs), \(rows) rows, \(input)")
                }
            }
        }
    }

    func testEverySetGivesTheSameConvOutputAsPortable() throws {
        var rng = RandomSource(seed: 17)
        for (cin, cout, kernel, stride, padding) in [(3, 17, 3, 1, 1), (5, 33, 3, 2, 0), (1, 7, 5, 1, 2), (6, 20, 1, 1, 0)] {
            let conv = makeConv(cin, cout, kernel: kernel, stride: stride, padding: padding, &rng)
            let x = Tensor(RandomFixtures.values(3 * 9 * 7 * cin, &rng), shape: [3, 9, 7, cin], context: conv.weight.value.context)
            let q = try QuantizedConv2d(conv, input: .dynamic)
            q.kernels = .portable
            let reference = q(x).array
            for set in fastSets() {
                q.kernels = set
                XCTAssertEqual(bits(q(x).array), bits(reference), "\(set.name): conv \(cin)→\(cout), kernel \(kernel)")
            }
        }
    }

    func testEverySetIsDeterministicAcrossThreadCounts() throws {
        let saved = EngineThreads.count
        defer { EngineThreads.set(saved) }
        var rng = RandomSource(seed: 29)
        let linear = makeLinear(300, 130, &rng)
        let x = Tensor(RandomFixtures.values(200 * 300, &rng), shape: [200, 300], context: linear.weight.value.context)
        let q = try QuantizedLinear(linear, input: .dynamic)
        for set in [KernelSet.portable] + fastSets() {
            q.kernels = set
            EngineThreads.set(1)
            let one = q(x).array
            EngineThreads.set(2)
            let two = q(x).array, again = q(x).array
            XCTAssertEqual(bits(one), bits(two), "\(set.name): one thread against two")
            XCTAssertEqual(bits(two), bits(again), "\(set.name): two runs")
        }
    }

    // MARK: Helpers

    private func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

    private func makeLinear(_ inputs: Int, _ outputs: Int, _ rng: inout RandomSource) -> Linear {
        let linear = Linear("linear", inputs, outputs, bias: true)
        stores.append(ParameterStore(linear.parameters, context: ExecutionContext()))
        linear.initialize(using: &rng)
        return linear
    }

    private func makeConv(_ cin: Int, _ cout: Int, kernel: Int, stride: Int, padding: Int,
                          _ rng: inout RandomSource) -> Conv2d {
        let conv = Conv2d("conv", cin, cout, kernel: kernel, stride: stride, padding: padding, bias: true)
        stores.append(ParameterStore(conv.parameters, context: ExecutionContext()))
        conv.initialize(using: &rng)
        return conv
    }
}
