import XCTest
import Engine
@testable import Compression

/// int8 inference: the int8 GEMM against a triple loop; the quantized Linear and Conv2d against
/// fake quantization computed here in float (dequantize(quantize(x)) · dequantize(quantize(W)) + b,
/// which the integer path must reproduce to float rounding) and against the float layers; sizes,
/// traces and input errors.
final class Int8InferenceTests: XCTestCase {
    /// Parameter stores own the memory their parameters view; keep them alive for the test.
    private var stores: [ParameterStore] = []

    // MARK: GEMM

    func testGEMMMatchesTripleLoop() {
        var rng = RandomSource(seed: 11)
        // Edges of the register tiles and 16-column panels, odd depths, k = 1, and long depths.
        let shapes = [(1, 1, 1), (7, 5, 1), (6, 2, 8), (13, 11, 19), (12, 4, 16), (37, 29, 300), (5, 3, 1031), (3, 7, 2100)]
        for (m, n, k) in shapes {
            let lda = k + 3, ldb = k + 1, ldc = n + 2
            let a = RandomFixtures.codes(m * lda, &rng), b = RandomFixtures.codes(n * ldb, &rng)
            var c = [Int32](repeating: -7, count: m * ldc)
            int8GEMM(m: m, n: n, k: k, a, lda: lda, b, ldb: ldb, &c, ldc: ldc)
            for i in 0..<m {
                for j in 0..<n {
                    var s: Int32 = 0
                    for p in 0..<k { s += Int32(a[i * lda + p]) * Int32(b[j * ldb + p]) }
                    XCTAssertEqual(c[i * ldc + j], s, "C[\(i), \(j)] of \(m)×\(n)×\(k)")
                }
                for j in n..<ldc { XCTAssertEqual(c[i * ldc + j], -7, "padding of C row \(i) overwritten") }
            }
        }
    }

    func testGEMMIsExactAtTheLargestDepth() {
        // |sums| reach 2^16 · 2^14 = 2^30: no overflow with the most negative codes.
        let k = 1 << 16
        let a = [Int8](repeating: -128, count: 2 * k)
        var b = [Int8](repeating: -128, count: 3 * k)
        for i in 0..<k { b[k + i] = 127; b[2 * k + i] = i % 2 == 0 ? 127 : -128 }
        var c = [Int32](repeating: 0, count: 6)
        int8GEMM(m: 2, n: 3, k: k, a, lda: k, b, ldb: k, &c, ldc: 3)
        let expected: [Int32] = [1 << 30, -128 * 127 * Int32(k), Int32(k / 2) * (-128 * 127 + 128 * 128)]
        XCTAssertEqual(c, expected + expected)
    }

    func testGEMMOnTwoThreadsMatchesOneThread() {
        let saved = EngineThreads.count
        defer { EngineThreads.set(saved) }
        var rng = RandomSource(seed: 5)
        let (m, n, k) = (131, 71, 241)     // above the size that fans out; ragged tiles
        let a = RandomFixtures.codes(m * k, &rng), b = RandomFixtures.codes(n * k, &rng)
        var one = [Int32](repeating: 0, count: m * n), two = one
        EngineThreads.set(1)
        int8GEMM(m: m, n: n, k: k, a, lda: k, b, ldb: k, &one, ldc: n)
        EngineThreads.set(2)
        int8GEMM(m: m, n: n, k: k, a, lda: k, b, ldb: k, &two, ldc: n)
        XCTAssertEqual(one, two)
        var s: Int32 = 0
        for p in 0..<k { s += Int32(a[(m - 1) * k + p]) * Int32(b[(n - 1) * k + p]) }
        XCTAssertEqual(one[m * n - 1], s)
    }

    func testRowSumsGiveTheZeroPointCorrection() {
        var rng = RandomSource(seed: 3)
        let (m, n, k) = (4, 5, 9), zero: Int32 = -13
        let a = RandomFixtures.codes(m * k, &rng).map { max($0, -100) }, b = RandomFixtures.codes(n * k, &rng)
        XCTAssertEqual(int8RowSums(rows: 2, depth: 3, [1, 0, -1, 2, 2, 2], ld: 3), [0, 6])
        var c = [Int32](repeating: 0, count: m * n)
        int8GEMM(m: m, n: n, k: k, a, lda: k, b, ldb: k, &c, ldc: n)
        let sums = int8RowSums(rows: n, depth: k, b, ld: k)
        for i in 0..<m {
            for j in 0..<n {
                var s: Int32 = 0
                for p in 0..<k { s += (Int32(a[i * k + p]) - zero) * Int32(b[j * k + p]) }
                XCTAssertEqual(c[i * n + j] - zero * sums[j], s)
            }
        }
    }

    // MARK: Input quantization

    func testInputCodesRoundHalfToEvenSaturateAndMapNaNToTheZeroPoint() {
        // Nineteen values: two eight-lane vectors and a scalar tail.
        let x: [Float] = [0.25, 0.75, 1.25, -0.25, -0.75, 100, -100, .nan,
                          0, 0.5, -0.5, 63.25, -65.5, .infinity, -.infinity, 1,
                          0.75, .nan, -100]
        let expected: [Int8] = [3, 5, 5, 3, 1, 127, -128, 3,
                                3, 4, 2, 127, -128, 127, -128, 5,
                                5, 3, -128]
        let q = AffineQuantization(scale: [0.5], zeroPoint: [3], qmin: -128, qmax: 127)
        var codes = [Int8](repeating: 0, count: x.count)
        _ = quantizeInt8Input(x, count: x.count, .calibrated(q), into: &codes)
        XCTAssertEqual(codes, expected)
    }

    func testDynamicParametersFollowONNXDynamicQuantizeLinear() {
        let p = Int8InputQuantization.dynamicParameters(minimum: -1, maximum: 3)
        XCTAssertEqual(p.scale[0], 4 / 255, accuracy: 1e-9)
        XCTAssertEqual(p.zeroPoint, [-64])            // round(−128 + 63.75)
        XCTAssertEqual(Int8InputQuantization.dynamicParameters(minimum: 2, maximum: 5).zeroPoint, [-128])  // range widened to 0
        XCTAssertEqual(Int8InputQuantization.dynamicParameters(minimum: -4, maximum: -1).zeroPoint, [127])
        XCTAssertEqual(Int8InputQuantization.dynamicParameters(minimum: 0, maximum: 0).scale, [1])
    }

    // MARK: Linear

    func testLinearReproducesFakeQuantization() throws {
        var rng = RandomSource(seed: 21)
        for (rows, inputs, outputs, bias, bits) in [(9, 37, 13, true, 8), (4, 16, 6, false, 8), (3, 5, 1, true, 4), (6, 1, 3, true, 2)] {
            let linear = makeLinear(inputs, outputs, bias: bias, &rng)
            let x = RandomFixtures.values(rows * inputs, &rng)
            let params = AffineQuantization(scale: [0.6 / 127], zeroPoint: [-17], qmin: -128, qmax: 127)  // saturates some
            for input in [Int8InputQuantization.calibrated(params), .dynamic] {
                let q = try QuantizedLinear(linear, weightBits: bits, input: input)
                let (codes, scales) = referenceWeightCodes(rows: outputs, depth: inputs, bits: bits) { linear.weight.value.data[$0 * inputs + $1] }
                XCTAssertEqual(q.weightCodes, codes)
                XCTAssertEqual(q.weightScales, scales)
                let y = q(Tensor(x, shape: [rows, inputs], context: linear.weight.value.context)).array
                let p = input == .dynamic ? Int8InputQuantization.dynamicParameters(minimum: x.min()!, maximum: x.max()!) : params
                let xq = dequantized(x, p)
                for r in 0..<rows {
                    for c in 0..<outputs {
                        var s: Float = 0, magnitude: Float = 0
                        for i in 0..<inputs {
                            let term = xq[r * inputs + i] * (Float(codes[c * inputs + i]) * scales[c])
                            s += term; magnitude += abs(term)
                        }
                        let b = bias ? linear.bias!.value.data[c] : 0
                        XCTAssertEqual(y[r * outputs + c], s + b, accuracy: 1e-5 * (magnitude + abs(b)) + 1e-6,
                                       "(\(r), \(c)) of \(rows)×\(inputs)→\(outputs), \(bits) bits, \(input)")
                    }
                }
            }
        }
    }

    func testLinearIsCloseToTheFloatLayer() throws {
        var rng = RandomSource(seed: 8)
        let linear = makeLinear(256, 64, bias: true, &rng)
        let x = Tensor(RandomFixtures.values(32 * 256, &rng), shape: [32, 256], context: linear.weight.value.context)
        let reference = linear(x).array
        let dynamic = try QuantizedLinear(linear, input: .dynamic)(x).array
        XCTAssertLessThan(relativeError(dynamic, reference), 0.02)
        let calibrated = try QuantizedLinear(linear, input: .calibrated(Int8InputQuantization.dynamicParameters(minimum: -1, maximum: 1)))
        XCTAssertLessThan(relativeError(calibrated(x).array, reference), 0.02)
    }

    func testLinearSizeTraceAndInferenceOnlyProtocol() throws {
        var rng = RandomSource(seed: 2)
        let linear = makeLinear(100, 10, bias: true, &rng)
        let q = try QuantizedLinear(linear, input: .dynamic)
        XCTAssertEqual(q.storedBytes, Double(100 * 10 + 4 * 10 + 4 * 10))
        XCTAssertEqual(try QuantizedLinear(makeLinear(100, 10, bias: false, &rng), input: .dynamic).storedBytes, Double(1000 + 40))
        XCTAssertTrue(q.parameters.isEmpty)
        XCTAssertEqual(try q.outputShape(for: [3, 100]), [3, 10])
        XCTAssertThrowsError(try q.outputShape(for: [3, 99]))

        let ctx = ExecutionContext(recordsEvents: true)
        let x = Tensor(RandomFixtures.values(6 * 100, &rng), shape: [6, 100], context: ctx)
        let y = q(x)
        XCTAssertNil(q.backward(y))
        XCTAssertEqual(ctx.events.map(\.name), ["linear.quantize", "linear", "linear.rescale"])
        let gemm = ctx.events[1]
        XCTAssertEqual(gemm.kind, .matmul)
        XCTAssertEqual(gemm.dtype, .int8)
        XCTAssertEqual(gemm.flops, Double(2 * 6 * 100 * 10))
        XCTAssertEqual(gemm.bytesRead, Double(6 * 100 + 100 * 10))
        XCTAssertEqual(gemm.bytesWritten, Double(4 * 6 * 10))
        XCTAssertEqual(ctx.events[0].bytesWritten, 6 * 100)          // one byte per input code
        XCTAssertEqual(ctx.summary.flopsByDType[.int8], Double(2 * 6 * 100 * 10))
    }

    func testLayersTraceInMetaMode() throws {
        let ctx = ExecutionContext(mode: .meta)
        let linear = Linear("fc", 784, 512)
        let conv = Conv2d("conv", 32, 64, kernel: 3, stride: 2, padding: 1)
        stores.append(ParameterStore(linear.parameters + conv.parameters, context: ctx))
        let q = try QuantizedLinear(linear, input: .dynamic)
        XCTAssertEqual(q.storedBytes, Double(784 * 512 + 8 * 512))
        XCTAssertEqual(q(Tensor(shape: [128, 784], context: ctx)).shape, [128, 512])
        XCTAssertEqual(ctx.summary.flopsByDType[.int8], Double(2 * 128 * 784 * 512))
        let qc = try QuantizedConv2d(conv, input: .dynamic)
        let summary = ctx.measure { XCTAssertEqual(qc(Tensor(shape: [8, 28, 28, 32], context: ctx)).shape, [8, 14, 14, 64]) }
        XCTAssertEqual(summary.flopsByDType[.int8], Double(2 * 8 * 14 * 14 * 288 * 64))
    }

    func testBadSettingsThrowConfigErrors() {
        var rng = RandomSource(seed: 1)
        let linear = makeLinear(4, 3, bias: true, &rng)
        func keyPath(_ bits: Int, _ input: Int8InputQuantization) -> String? {
            do { _ = try QuantizedLinear(linear, weightBits: bits, input: input); return nil } catch let e as ConfigError {
                return e.keyPath
            } catch { return "unexpected \(error)" }
        }
        let ok = AffineQuantization(scale: [0.1], zeroPoint: [0], qmin: -128, qmax: 127)
        XCTAssertNil(keyPath(8, .calibrated(ok)))
        XCTAssertEqual(keyPath(9, .dynamic), "linear.weight_bits")
        XCTAssertEqual(keyPath(1, .dynamic), "linear.weight_bits")
        XCTAssertEqual(keyPath(8, .calibrated(AffineQuantization(scale: [0.1, 0.2], zeroPoint: [0, 0], qmin: -128, qmax: 127))), "linear.input.scale")
        XCTAssertEqual(keyPath(8, .calibrated(AffineQuantization(scale: [0.1], zeroPoint: [0], qmin: 0, qmax: 255))), "linear.input")
        XCTAssertEqual(keyPath(8, .calibrated(AffineQuantization(scale: [0], zeroPoint: [0], qmin: -128, qmax: 127))), "linear.input.scale")
        XCTAssertEqual(keyPath(8, .calibrated(AffineQuantization(scale: [0.1], zeroPoint: [-120], qmin: -100, qmax: 100))), "linear.input.zero_point")
        linear.weight.value.data[5] = .nan
        XCTAssertEqual(keyPath(8, .dynamic), "linear.weight")
        let conv = makeConv(1, 1, kernel: 1, stride: 1, padding: 0, bias: false, &rng)
        XCTAssertThrowsError(try QuantizedConv2d(conv, weightBits: 0, input: .dynamic)) { error in
            XCTAssertEqual((error as? ConfigError)?.keyPath, "conv.weight_bits")
        }
    }

    // MARK: Conv2d

    func testConvReproducesFakeQuantization() throws {
        var rng = RandomSource(seed: 33)
        // Windows overhanging one side, both sides at once (kernel 7 over a 6-wide image), and
        // strides past the kernel; two samples per column chunk, so rows start mid-batch.
        let cases = [(3, 1, 1, -20), (3, 2, 1, 5), (5, 2, 2, 30), (1, 1, 0, -3), (2, 3, 0, 0), (3, 1, 0, 12),
                     (7, 1, 4, 9), (3, 4, 2, -1)]
        for (kernel, stride, padding, zero) in cases {
            let (cin, cout, batch, h, w) = (3, 5, 5, 7, 6)
            let conv = makeConv(cin, cout, kernel: kernel, stride: stride, padding: padding, bias: zero != 0, &rng)
            let x = RandomFixtures.values(batch * h * w * cin, &rng)
            let params = AffineQuantization(scale: [0.8 / 127], zeroPoint: [Int32(zero)], qmin: -128, qmax: 127)
            for input in [Int8InputQuantization.calibrated(params), .dynamic] {
                let q = try QuantizedConv2d(conv, input: input)
                q.columnBudget = 2 * ((h + 2 * padding - kernel) / stride + 1) * ((w + 2 * padding - kernel) / stride + 1) * kernel * kernel * cin
                let y = q(Tensor(x, shape: [batch, h, w, cin], context: conv.weight.value.context))
                let p = input == .dynamic ? Int8InputQuantization.dynamicParameters(minimum: x.min()!, maximum: x.max()!) : params
                let wq = referenceWeightCodes(rows: cout, depth: kernel * kernel * cin, bits: 8) { conv.weight.value.data[$1 * cout + $0] }
                XCTAssertEqual(q.weightCodes, wq.codes)
                let expected = directConvolution(dequantized(x, p), shape: (batch, h, w, cin), weights: wq, cout: cout,
                                                 kernel: kernel, stride: stride, padding: padding, bias: conv.bias?.value.array)
                XCTAssertEqual(y.shape, [batch] + (try conv.outputShape(for: [h, w, cin])))
                XCTAssertEqual(y.count, expected.values.count)
                for i in 0..<y.count {
                    XCTAssertEqual(y.data[i], expected.values[i], accuracy: 1e-5 * expected.magnitudes[i] + 1e-6,
                                   "output \(i): kernel \(kernel), stride \(stride), padding \(padding), \(input)")
                }
            }
        }
    }

    func testConvIsCloseToTheFloatLayerAndSizesAndTrace() throws {
        var rng = RandomSource(seed: 4)
        let conv = makeConv(8, 16, kernel: 3, stride: 1, padding: 1, bias: true, &rng)
        let ctx = conv.weight.value.context
        let x = Tensor(RandomFixtures.values(4 * 9 * 9 * 8, &rng), shape: [4, 9, 9, 8], context: ctx)
        let reference = conv(x).array
        let q = try QuantizedConv2d(conv, input: .dynamic)
        XCTAssertLessThan(relativeError(q(x).array, reference), 0.02)
        XCTAssertEqual(q.storedBytes, Double(16 * 72 + 4 * 16 + 4 * 16))
        XCTAssertTrue(q.parameters.isEmpty)
        XCTAssertNil(q.backward(x))
        XCTAssertThrowsError(try q.outputShape(for: [9, 9, 3]))
        XCTAssertThrowsError(try q.outputShape(for: [0, 9, 8]))
        XCTAssertEqual(try q.outputShape(for: [1, 1, 8]), [1, 1, 16])

        let summary = ctx.measure { _ = q(x) }
        XCTAssertEqual(summary.flopsByDType[.int8], Double(2 * (4 * 81) * 72 * 16))
        XCTAssertEqual(summary.byKind[.conv]?.bytesRead, Double(4 * 81 * 72 + 16 * 72))
        XCTAssertEqual(summary.byKind[.copy]?.bytesWritten, Double(4 * 81 * 72))    // int8 columns
    }

    // MARK: Fixtures and references

    private func makeLinear(_ inputs: Int, _ outputs: Int, bias: Bool, _ rng: inout RandomSource) -> Linear {
        let ctx = ExecutionContext()
        let linear = Linear("linear", inputs, outputs, bias: bias)
        stores.append(ParameterStore(linear.parameters, context: ctx))
        linear.initialize(using: &rng)
        return linear
    }

    private func makeConv(_ cin: Int, _ cout: Int, kernel: Int, stride: Int, padding: Int, bias: Bool,
                          _ rng: inout RandomSource) -> Conv2d {
        let ctx = ExecutionContext()
        let conv = Conv2d("conv", cin, cout, kernel: kernel, stride: stride, padding: padding, bias: bias)
        stores.append(ParameterStore(conv.parameters, context: ctx))
        conv.initialize(using: &rng)
        return conv
    }

    /// x̂ = (clamp(round_half_even(x / s) + z, qmin, qmax) − z) · s.
    private func dequantized(_ x: [Float], _ p: AffineQuantization) -> [Float] {
        x.map { v in
            let q = min(max((v / p.scale[0]).rounded(.toNearestOrEven) + Float(p.zeroPoint[0]), Float(p.qmin)), Float(p.qmax))
            return (q - Float(p.zeroPoint[0])) * p.scale[0]
        }
    }

    /// Symmetric per-row codes: scale max|w| / (2^(bits−1) − 1).
    private func referenceWeightCodes(rows: Int, depth: Int, bits: Int, _ w: (Int, Int) -> Float) -> (codes: [Int8], scales: [Float]) {
        let qmax = Float((1 << (bits - 1)) - 1)
        var codes: [Int8] = [], scales: [Float] = []
        for r in 0..<rows {
            let scale = (0..<depth).map { abs(w(r, $0)) }.max()! / qmax
            scales.append(scale)
            codes += (0..<depth).map { Int8(min(max((w(r, $0) / scale).rounded(.toNearestOrEven), -qmax), qmax)) }
        }
        return (codes, scales)
    }

    /// NHWC convolution with zero padding, weights given as (cout, k·k·cin) codes and scales; also
    /// the sum of |terms| per output for the tolerance.
    private func directConvolution(_ x: [Float], shape: (Int, Int, Int, Int), weights: (codes: [Int8], scales: [Float]),
                                   cout: Int, kernel: Int, stride: Int, padding: Int,
                                   bias: [Float]?) -> (values: [Float], magnitudes: [Float]) {
        let (batch, h, w, cin) = shape
        let oh = (h + 2 * padding - kernel) / stride + 1, ow = (w + 2 * padding - kernel) / stride + 1
        let depth = kernel * kernel * cin
        var values: [Float] = [], magnitudes: [Float] = []
        for b in 0..<batch {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for c in 0..<cout {
                        var s = bias?[c] ?? 0, m = abs(s)
                        for ky in 0..<kernel {
                            for kx in 0..<kernel {
                                let iy = oy * stride - padding + ky, ix = ox * stride - padding + kx
                                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                                for ci in 0..<cin {
                                    let t = (ky * kernel + kx) * cin + ci
                                    let term = x[((b * h + iy) * w + ix) * cin + ci]
                                        * (Float(weights.codes[c * depth + t]) * weights.scales[c])
                                    s += term; m += abs(term)
                                }
                            }
                        }
                        values.append(s); magnitudes.append(m)
                    }
                }
            }
        }
        return (values, magnitudes)
    }

    /// ‖a − b‖ / ‖b‖.
    private func relativeError(_ a: [Float], _ b: [Float]) -> Float {
        var d: Float = 0, n: Float = 0
        for (x, y) in zip(a, b) { d += (x - y) * (x - y); n += y * y }
        return (d / n).squareRoot()
    }
}
