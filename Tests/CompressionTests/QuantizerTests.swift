import XCTest
import Foundation
import Engine
@testable import Compression

final class QuantizerTests: XCTestCase {
    private let int8 = QuantizationScheme(bits: 8, symmetric: true)

    // MARK: ONNX QuantizeLinear / DequantizeLinear

    func testONNXQuantizeLinearUInt8Example() {
        let x: [Float] = [0, 2, 3, 1000, -254, -1000]
        let y = x.map { quantize($0, scale: 2, zeroPoint: 128, qmin: 0, qmax: 255) }
        XCTAssertEqual(y, [128, 129, 130, 255, 1, 0])
    }

    func testInt8AndONNXInt16Examples() {
        // The same inputs into signed 8 bits with zero point −1, worked by hand.
        let x: [Float] = [0, 2, 3, 1000, -254, -1000]
        XCTAssertEqual(x.map { quantize($0, scale: 2, zeroPoint: -1, qmin: -128, qmax: 127) }, [-1, 0, 1, 127, -128, -128])
        // ONNX's int16 example (scale 2, zero point 256).
        let x16: [Float] = [0, -514, 3, -3, 2.9, -2.9, 3.1, -3.1, 65022, -66046, 65023, -66047, 65024, -66048, 70000, -70000]
        let y16 = x16.map { quantize($0, scale: 2, zeroPoint: 256, qmin: -32768, qmax: 32767) }
        XCTAssertEqual(y16, [256, -1, 258, 254, 257, 255, 258, 254, 32767, -32767, 32767, -32768, 32767, -32768, 32767, -32768])
    }

    func testRoundsHalfToEvenAndSaturates() {
        let ties: [Float] = [0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 126.5]
        XCTAssertEqual(ties.map { quantize($0, scale: 1, zeroPoint: 0, qmin: -127, qmax: 127) }, [0, 2, 2, 4, 0, -2, -2, 126])
        XCTAssertEqual(quantize(0.75, scale: 0.5, zeroPoint: 0, qmin: -127, qmax: 127), 2)  // 1.5 → 2
        XCTAssertEqual(quantize(1e30, scale: 0.01, zeroPoint: 0, qmin: -127, qmax: 127), 127)
        XCTAssertEqual(quantize(.infinity, scale: 1, zeroPoint: 3, qmin: -8, qmax: 7), 7)
        XCTAssertEqual(quantize(-.infinity, scale: 1, zeroPoint: 3, qmin: -8, qmax: 7), -8)
        XCTAssertEqual(quantize(.nan, scale: 1, zeroPoint: 3, qmin: -8, qmax: 7), 3)
        XCTAssertEqual(quantize(-200, scale: 1, zeroPoint: 100, qmin: -128, qmax: 127), -100)
    }

    func testONNXDequantizeLinearExample() {
        XCTAssertEqual([0, 3, 128, 255].map { dequantize($0, scale: 2, zeroPoint: 128) }, [-256, -250, 0, 254])
        XCTAssertEqual(dequantize(-127, scale: 0.5, zeroPoint: 0), -63.5)
    }

    func testONNXAxisExampleThroughChannelLayout() {
        // ONNX QuantizeLinear's per-axis example: shape (1, 3, 3, 2), axis 1, uint8.
        let x: [Float] = [-162, 10, -100, 232, -20, -50,
                          -76, 0, 0, 252, 32, -44,
                          245, -485, -960, -270, -375, -470]
        let scale: [Float] = [2, 4, 5], zeroPoint: [Int32] = [84, 24, 196]
        var y = [Int32](repeating: 0, count: x.count)
        ChannelLayout(shape: [1, 3, 3, 2], channelAxis: 1, perChannel: true).forEachRun { offset, c, length in
            for i in offset..<(offset + length) {
                y[i] = quantize(x[i], scale: scale[c], zeroPoint: zeroPoint[c], qmin: 0, qmax: 255)
            }
        }
        XCTAssertEqual(y, [3, 89, 34, 200, 74, 59, 5, 24, 24, 87, 32, 13, 245, 99, 4, 142, 121, 102])
    }

    // MARK: Schemes

    func testCodeRanges() {
        let cases: [(QuantizationScheme, Int32, Int32)] = [
            (QuantizationScheme(bits: 8, symmetric: true), -127, 127),
            (QuantizationScheme(bits: 8, symmetric: false), -128, 127),
            (QuantizationScheme(bits: 4, symmetric: true), -7, 7),
            (QuantizationScheme(bits: 4, symmetric: false), -8, 7),
            (QuantizationScheme(bits: 2, symmetric: true), -1, 1),
            (QuantizationScheme(bits: 2, symmetric: false), -2, 1),
            (QuantizationScheme(bits: 1), -1, 1),
            (QuantizationScheme(bits: 4, levels: .powerOfTwo), -7, 7),
        ]
        for (scheme, qmin, qmax) in cases {
            XCTAssertEqual(scheme.qmin, qmin, "\(scheme)")
            XCTAssertEqual(scheme.qmax, qmax, "\(scheme)")
        }
    }

    func testImpossibleSchemesThrowWithKeyPath() {
        func reason(_ scheme: QuantizationScheme, channels: Int) -> ConfigError? {
            do { try scheme.validate(channels: channels, keyPath: "compression.quantization"); return nil } catch {
                return error as? ConfigError
            }
        }
        XCTAssertNil(reason(QuantizationScheme(bits: 4, perChannel: true), channels: 16))
        XCTAssertEqual(reason(QuantizationScheme(bits: 3), channels: 1)?.keyPath, "compression.quantization.bits")
        XCTAssertEqual(reason(QuantizationScheme(bits: 16), channels: 1)?.reason, "unsupported bit width 16 (valid: 8, 4, 2, 1 for binary)")
        XCTAssertEqual(reason(QuantizationScheme(symmetric: false, levels: .powerOfTwo), channels: 1)?.keyPath,
                       "compression.quantization.levels")
        XCTAssertEqual(reason(QuantizationScheme(bits: 1, levels: .powerOfTwo), channels: 1)?.keyPath,
                       "compression.quantization.levels")
        let single = reason(QuantizationScheme(perChannel: true), channels: 1)
        XCTAssertEqual(single?.keyPath, "compression.quantization.per_channel")
        XCTAssertTrue(single?.reason.hasSuffix("per-channel quantization needs more than one channel") ?? false)
    }

    func testDecodesSchemesWithDefaultsAndTypedErrors() throws {
        let decoded = try JSONDecoder().decode(QuantizationScheme.self,
                                               from: Data(#"{"bits": 4, "per_channel": true, "levels": "pow2"}"#.utf8))
        XCTAssertEqual(decoded, QuantizationScheme(bits: 4, symmetric: true, perChannel: true, levels: .powerOfTwo))
        XCTAssertEqual(try JSONDecoder().decode(QuantizationScheme.self, from: Data("{}".utf8)), QuantizationScheme())
        let encoded = try JSONEncoder().encode(decoded)
        XCTAssertEqual(try JSONDecoder().decode(QuantizationScheme.self, from: encoded), decoded)
        let bad: [(String, String)] = [
            (#"{"bitz": 4}"#, "bitz"), (#"{"bits": "8"}"#, "bits"), (#"{"bits": 3}"#, "bits"),
            (#"{"levels": "log"}"#, "levels"), (#"{"symmetric": false, "levels": "pow2"}"#, "levels"),
        ]
        for (json, keyPath) in bad {
            XCTAssertThrowsError(try JSONDecoder().decode(QuantizationScheme.self, from: Data(json.utf8)), json) { error in
                XCTAssertEqual((error as? ConfigError)?.keyPath, keyPath, "\(json): \(error)")
            }
        }
    }

    // MARK: Parameters from a range

    func testParametersFromRanges() {
        let asym = QuantizationScheme(symmetric: false)
        var q = quantizationParameters(min: -1, max: 3, scheme: int8)
        XCTAssertEqual(q.scale, [3 / Float(127)]); XCTAssertEqual(q.zeroPoint, [0])
        q = quantizationParameters(min: -1, max: 3, scheme: asym)
        XCTAssertEqual(q.scale, [4 / Float(255)]); XCTAssertEqual(q.zeroPoint, [-64])  // −128 + 63.75
        q = quantizationParameters(min: 2, max: 4, scheme: asym)                         // widened to [0, 4]
        XCTAssertEqual(q.scale, [4 / Float(255)]); XCTAssertEqual(q.zeroPoint, [-128])
        q = quantizationParameters(min: -4, max: -2, scheme: asym)                       // widened to [−4, 0]
        XCTAssertEqual(q.zeroPoint, [127])
        XCTAssertEqual(quantize(0, scale: q.scale[0], zeroPoint: q.zeroPoint[0], qmin: q.qmin, qmax: q.qmax), 127)
        for (lo, hi) in [(Float(0), Float(0)), (.nan, .nan), (0, 1e-45)] {
            for scheme in [int8, asym, QuantizationScheme(bits: 1), QuantizationScheme(levels: .powerOfTwo)] {
                let s = quantizationParameters(min: lo, max: hi, scheme: scheme).scale[0]
                XCTAssertTrue(s.isFinite && s > 0, "\(lo)…\(hi) \(scheme): \(s)")
            }
        }
        XCTAssertEqual(quantizationParameters(min: 0, max: 0, scheme: asym).scale, [1])
        XCTAssertTrue(quantizationParameters(min: -.infinity, max: .infinity, scheme: asym).scale[0].isFinite)
    }

    // MARK: Weights

    func testPerChannelScalesOnOutInWeight() {
        let w: [Float] = [1.27, -0.5, 0.333, 0,      // channel 0: max |w| 1.27 → scale 0.01
                          2, -12.7, 6.26, 0.04]      // channel 1: max |w| 12.7 → scale 0.1
        let (q, codes) = quantizeWeights(w, shape: [2, 4], channelAxis: 0,
                                         scheme: QuantizationScheme(perChannel: true), range: .minMax)
        XCTAssertEqual(q.axis, 0)
        XCTAssertEqual(q.scale, [Float(1.27) / 127, Float(12.7) / 127])
        XCTAssertEqual(q.zeroPoint, [0, 0])
        XCTAssertEqual(codes, [127, -50, 33, 0, 20, -127, 63, 0])
        let (t, tensorCodes) = quantizeWeights(w, shape: [2, 4], channelAxis: 0, scheme: int8, range: .minMax)
        XCTAssertNil(t.axis)
        XCTAssertEqual(t.scale, [Float(12.7) / 127])
        XCTAssertEqual(tensorCodes, [13, -5, 3, 0, 20, -127, 63, 0])
    }

    func testPerChannelOnChannelsLastConvolutionWeight() {
        // (k, k, cin, cout) = (2, 2, 1, 3); channel c is the pattern times 1, 4, 0.5.
        let pattern: [Float] = [1, -0.4, 0.2, 0.7], multiplier: [Float] = [1, 4, 0.5]
        var w = [Float]()
        for v in pattern { for m in multiplier { w.append(v * m) } }
        let scheme = QuantizationScheme(perChannel: true)
        let (q, codes) = quantizeWeights(w, shape: [2, 2, 1, 3], channelAxis: 3, scheme: scheme, range: .minMax)
        XCTAssertEqual(q.axis, 3)
        XCTAssertEqual(q.scale, multiplier.map { $0 / 127 })
        XCTAssertEqual(codes, [127, 127, 127, -51, -51, -51, 25, 25, 25, 89, 89, 89])
        var fake = w
        fakeQuantize(&fake, shape: [2, 2, 1, 3], channelAxis: 3, scheme: scheme, range: .minMax)
        XCTAssertEqual(fake, dequantizeWeights(codes, shape: [2, 2, 1, 3], quantization: q, scheme: scheme))
        for i in w.indices { XCTAssertLessThanOrEqual(abs(fake[i] - w[i]), q.scale[i % 3] / 2 * 1.0001) }
    }

    func testAsymmetricFakeQuantizationErrorIsHalfAStep() {
        var rng = RandomSource(seed: 3)
        let w = (0..<1000).map { _ in rng.nextFloat() * 5 - 1 }       // in [−1, 4)
        for bits in [8, 4, 2] {
            let scheme = QuantizationScheme(bits: bits, symmetric: false)
            var fake = w
            fakeQuantize(&fake, shape: [1000], channelAxis: 0, scheme: scheme, range: .minMax)
            let (q, codes) = quantizeWeights(w, shape: [1000], channelAxis: 0, scheme: scheme, range: .minMax)
            XCTAssertTrue(codes.allSatisfy { Int32($0) >= q.qmin && Int32($0) <= q.qmax })
            XCTAssertEqual(Set(fake).count <= 1 << bits, true)
            for i in w.indices { XCTAssertLessThanOrEqual(abs(fake[i] - w[i]), q.scale[0] * 0.5001, "\(bits) bits") }
        }
    }

    func testBinaryWeightsUseMeanMagnitude() {
        let binary = QuantizationScheme(bits: 1)
        var w: [Float] = [0.5, -1.5, 2, -0.0]
        let (q, codes) = quantizeWeights(w, shape: [4], channelAxis: 0, scheme: binary, range: .mse)
        XCTAssertEqual(q.scale, [1]); XCTAssertEqual(codes, [1, -1, 1, 1])
        fakeQuantize(&w, shape: [4], channelAxis: 0, scheme: binary, range: .minMax)
        XCTAssertEqual(w, [1, -1, 1, 1])
        var rows: [Float] = [1, -3, 0.5, 0.5]
        let perChannel = QuantizationScheme(bits: 1, perChannel: true)
        XCTAssertEqual(quantizeWeights(rows, shape: [2, 2], channelAxis: 0, scheme: perChannel, range: .minMax).0.scale, [2, 0.5])
        fakeQuantize(&rows, shape: [2, 2], channelAxis: 0, scheme: perChannel, range: .minMax)
        XCTAssertEqual(rows, [2, -2, 0.5, 0.5])
    }

    func testPowerOfTwoLevels() {
        // max |w| = 5 → kmax = round(log2 5) = 2; 4 bits → 7 exponents 2^-4 … 2^2; zero below 2^-4/√2.
        let scheme = QuantizationScheme(bits: 4, levels: .powerOfTwo)
        let w: [Float] = [1, 0.3, -0.2, 0.01, 0.05, 0.04, 5, 0, 1.4142, 1.4143, -4.5]
        let (q, codes) = quantizeWeights(w, shape: [w.count], channelAxis: 0, scheme: scheme, range: .percentile(100))
        XCTAssertEqual(q.scale, [0.0625])
        XCTAssertEqual(codes, [5, 3, -3, 0, 1, 0, 7, 0, 5, 6, -7])
        var fake = w
        fakeQuantize(&fake, shape: [w.count], channelAxis: 0, scheme: scheme, range: .percentile(100))
        XCTAssertEqual(fake, [1, 0.25, -0.25, 0, 0.0625, 0, 4, 0, 1, 2, -4])
        XCTAssertEqual(dequantizeWeights(codes, shape: [w.count], quantization: q, scheme: scheme), fake)
    }

    // MARK: Range calibration

    func testRangeMethodCoding() throws {
        let methods = try JSONDecoder().decode([RangeMethod].self, from: Data(#"["minmax", "mse", {"percentile": 99.9}]"#.utf8))
        XCTAssertEqual(methods, [.minMax, .mse, .percentile(99.9)])
        XCTAssertEqual(try JSONDecoder().decode([RangeMethod].self, from: JSONEncoder().encode(methods)), methods)
        let bad: [(String, String)] = [(#"["minmx"]"#, "[0]"), (#"[{"percentile": 20}]"#, "[0].percentile"),
                                       (#"[{"percentile": "high"}]"#, "[0]"), (#"[{"pct": 99}]"#, "[0].pct"), (#"["percentile"]"#, "[0]"), (#"[7]"#, "[0]")]
        for (json, keyPath) in bad {
            XCTAssertThrowsError(try JSONDecoder().decode([RangeMethod].self, from: Data(json.utf8))) { error in
                XCTAssertEqual((error as? ConfigError)?.keyPath, keyPath, "\(json): \(error)")
            }
        }
    }

    func testMinMaxObserverIsExactAndBatchInvariant() {
        var rng = RandomSource(seed: 11)
        let data = (0..<5000).map { _ in rng.nextNormal() * 3 + 1 }
        for scheme in [int8, QuantizationScheme(bits: 4, symmetric: false)] {
            let whole = RangeObserver(method: .minMax, scheme: scheme)
            whole.observe(data, count: data.count)
            let batched = RangeObserver(method: .minMax, scheme: scheme)
            for start in stride(from: 0, to: data.count, by: 700) {
                data[start..<min(start + 700, data.count)].withUnsafeBufferPointer { batched.observe($0.baseAddress!, count: $0.count) }
            }
            let expected = quantizationParameters(min: data.min()!, max: data.max()!, scheme: scheme)
            XCTAssertEqual(whole.parameters(), expected)
            XCTAssertEqual(batched.parameters(), expected)
        }
        XCTAssertEqual(RangeObserver(method: .minMax, scheme: int8).parameters().scale, [1])
    }

    func testPercentileOfAKnownDistribution() {
        let data = (0..<10_000).map(Float.init)
        let bin = Float(9999) / 2048
        let once = RangeObserver(method: .percentile(99), scheme: int8)
        once.observe(data, count: data.count)
        XCTAssertEqual(once.parameters().scale[0] * 127, 9900, accuracy: bin)
        // In growing batches the histogram is re-binned each time; the answer stays within two bins.
        let batched = RangeObserver(method: .percentile(99), scheme: int8)
        for start in stride(from: 0, to: 10_000, by: 1000) {
            data[start..<(start + 1000)].withUnsafeBufferPointer { batched.observe($0.baseAddress!, count: $0.count) }
        }
        XCTAssertEqual(batched.parameters().scale[0] * 127, 9900, accuracy: 2 * bin)
        // Asymmetric: both tails of x in −5000 … 4999.
        let signed = data.map { $0 - 5000 }
        let range = signed.withUnsafeBufferPointer {
            RangeMethod.percentile(99).clippingRange(of: $0, scheme: QuantizationScheme(symmetric: false))
        }
        XCTAssertEqual(range.min, -4900, accuracy: 2 * bin)
        XCTAssertEqual(range.max, 4900, accuracy: 2 * bin)
    }

    /// Squared error of quantizing `data` with per-tensor parameters `q`.
    private func quantizationError(_ data: [Float], _ q: AffineQuantization) -> Double {
        data.reduce(0) {
            let d = dequantize(quantize($1, scale: q.scale[0], zeroPoint: q.zeroPoint[0], qmin: q.qmin, qmax: q.qmax),
                               scale: q.scale[0], zeroPoint: q.zeroPoint[0]) - $1
            return $0 + Double(d * d)
        }
    }

    /// Standard normal data with one outlier at `outlier` (index 1234).
    private func normalWithOutlier(count: Int, outlier: Float, seed: UInt64) -> [Float] {
        var rng = RandomSource(seed: seed)
        var data = (0..<count).map { _ in rng.nextNormal() }
        data[1234] = outlier
        return data
    }

    func testMSEClipsAHeavyOutlierAndLowersTheError() {
        // At 4 and 2 bits the step that reaches the outlier rounds most of the data to zero; clipping
        // the outlier costs less than that.
        let data = normalWithOutlier(count: 10_000, outlier: 30, seed: 5)
        let schemes = [QuantizationScheme(bits: 4), QuantizationScheme(bits: 4, symmetric: false), QuantizationScheme(bits: 2)]
        for scheme in schemes {
            let mse = RangeObserver(method: .mse, scheme: scheme), minMax = RangeObserver(method: .minMax, scheme: scheme)
            mse.observe(data, count: data.count); minMax.observe(data, count: data.count)
            let clipped = mse.parameters(), full = minMax.parameters()
            XCTAssertLessThan(clipped.scale[0] * 4, full.scale[0], "\(scheme)")   // range much smaller than 30
            XCTAssertLessThan(quantizationError(data, clipped), quantizationError(data, full) / 2, "\(scheme)")
        }
        // On weights directly, through fake quantization.
        let scheme = QuantizationScheme(bits: 4)
        var viaMSE = data, viaMinMax = data
        fakeQuantize(&viaMSE, shape: [data.count], channelAxis: 0, scheme: scheme, range: .mse)
        fakeQuantize(&viaMinMax, shape: [data.count], channelAxis: 0, scheme: scheme, range: .minMax)
        let e1 = zip(viaMSE, data).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
        let e2 = zip(viaMinMax, data).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
        XCTAssertLessThan(e1, e2 / 2)
    }

    func testMSEFindsTheBalancedClipAtEightBits() {
        // One outlier at M = 100 among N normals: clipping at t costs (M − t)² for it plus N·(t/127)²/12
        // rounding noise for the rest, least at t* = M / (1 + N / (12 · 127²)) ≈ 32.6 for N = 400,000.
        let n = 400_000, outlier: Float = 100
        let data = normalWithOutlier(count: n, outlier: outlier, seed: 8)
        let mse = RangeObserver(method: .mse, scheme: int8), minMax = RangeObserver(method: .minMax, scheme: int8)
        mse.observe(data, count: data.count); minMax.observe(data, count: data.count)
        let clipped = mse.parameters(), full = minMax.parameters()
        let best = outlier / (1 + Float(n) / (12 * 127 * 127))
        XCTAssertEqual(clipped.scale[0] * 127, best, accuracy: 0.1 * best)
        XCTAssertLessThan(quantizationError(data, clipped), quantizationError(data, full) / 2)
    }

    func testMSEMatchesLloydMaxForTernaryGaussian() {
        // Three levels {−t, 0, t} for a standard normal: the optimum is t ≈ 1.224 (Max 1960, "Quantizing
        // for Minimum Distortion", N = 3), with the decision threshold at t/2.
        var rng = RandomSource(seed: 12)
        let data = (0..<100_000).map { _ in rng.nextNormal() }
        let observer = RangeObserver(method: .mse, scheme: QuantizationScheme(bits: 2))
        observer.observe(data, count: data.count)
        XCTAssertEqual(observer.parameters().scale[0], 1.224, accuracy: 0.03)
    }

    func testMSEKeepsTheRangeOfBoundedData() {
        var rng = RandomSource(seed: 9)
        let data = (0..<20_000).map { _ in rng.nextFloat() * 2 - 1 }
        let observer = RangeObserver(method: .mse, scheme: int8)
        observer.observe(data, count: data.count)
        XCTAssertGreaterThan(observer.parameters().scale[0] * 127, 0.95)  // no reason to clip uniform data at 8 bits
    }

    func testHistogramErrorMatchesNumericIntegration() {
        var histogram = ValueHistogram(lower: -1, upper: 3, bins: 4)
        let values: [Float] = [-0.5, 0.2, 0.7, 2.1, 2.5, 2.9]
        values.withUnsafeBufferPointer { histogram.add($0, absolute: false) }
        XCTAssertEqual(histogram.counts, [1, 2, 0, 3])
        let step = 0.3, low = -0.9, high = 2.1
        var numeric = 0.0
        let samples = 200_000
        for (i, mass) in histogram.counts.enumerated() where mass > 0 {
            let a = -1 + Double(i)
            for s in 0..<samples {
                let x = a + (Double(s) + 0.5) / Double(samples)
                let level = min(max((x / step).rounded() * step, low), high)
                numeric += mass * (x - level) * (x - level) / Double(samples)
            }
        }
        XCTAssertEqual(histogram.uniformError(step: step, low: low, high: high), numeric, accuracy: 1e-6 * numeric)
    }

    func testBinaryObserverUsesMeanMagnitude() {
        let observer = RangeObserver(method: .mse, scheme: QuantizationScheme(bits: 1))
        observer.observe([1, -3], count: 2)
        observer.observe([0.5, -0.5, .nan], count: 3)
        XCTAssertEqual(observer.parameters().scale, [1.25])
        XCTAssertEqual(observer.parameters().qmin, -1)
    }
}
