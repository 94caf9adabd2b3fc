import XCTest
@testable import Engine

/// The direct small-depth convolution's C kernels (`multiplySmallDepth`,
/// `accumulateSmallDepthGradient`): the portable loops against a sum in doubles, and every other
/// set this CPU runs against the portable one bit for bit, on pixel counts past the groups of four
/// and column counts past the 16- and 8-wide registers.
final class FloatKernelSetTests: XCTestCase {
    /// Shapes: pixels, columns, taps (offsets into a window row), pixel stride.
    private let shapes: [(pixels: Int, columns: Int, taps: [Int], stride: Int)] = [
        (7, 37, [0, 1, 2, 30, 31, 32, 60, 61, 62], 1),     // 3×3 on one channel: 16 + 16 + 5 columns
        (4, 8, [0, 5, 9], 2),                             // one group of four, one 8-column register
        (3, 5, [2, 0, 1, 7], 3),                          // no group of four, scalar columns only
        (13, 24, Array(0..<27), 3),                       // 3×3×3 windows: 16 + 8 columns
    ]

    private func fixture(_ shape: (pixels: Int, columns: Int, taps: [Int], stride: Int), _ rng: inout RandomSource)
        -> (windows: [Float], w: [Float], bias: [Float], dy: [Float]) {
        let span = (shape.pixels - 1) * shape.stride + shape.taps.max()! + 1
        return ((0..<span).map { _ in rng.nextFloat() - 0.5 },
                (0..<shape.taps.count * shape.columns).map { _ in rng.nextFloat() - 0.5 },
                (0..<shape.columns).map { _ in rng.nextFloat() - 0.5 },
                (0..<shape.pixels * shape.columns).map { _ in rng.nextFloat() - 0.5 })
    }

    private func multiply(_ set: KernelSet, _ shape: (pixels: Int, columns: Int, taps: [Int], stride: Int),
                          _ f: (windows: [Float], w: [Float], bias: [Float], dy: [Float]), bias: Bool) -> [Float] {
        var y = [Float](repeating: .nan, count: shape.pixels * shape.columns)
        shape.taps.withUnsafeBufferPointer { taps in
            f.bias.withUnsafeBufferPointer { b in
                multiplySmallDepth(f.windows, pixelStride: shape.stride, taps: taps, pixels: shape.pixels, f.w,
                                   bias: bias ? b.baseAddress : nil, columns: shape.columns, into: &y, kernels: set)
            }
        }
        return y
    }

    /// dw and db after accumulating onto non-zero starting values.
    private func gradient(_ set: KernelSet, _ shape: (pixels: Int, columns: Int, taps: [Int], stride: Int),
                          _ f: (windows: [Float], w: [Float], bias: [Float], dy: [Float])) -> (dw: [Float], db: [Float]) {
        var dw = f.w, db = f.bias
        shape.taps.withUnsafeBufferPointer { taps in
            db.withUnsafeMutableBufferPointer { db in
                accumulateSmallDepthGradient(f.windows, pixelStride: shape.stride, taps: taps, f.dy, pixels: shape.pixels,
                                             columns: shape.columns, into: &dw, biasGradient: db.baseAddress, kernels: set)
            }
        }
        return (dw, db)
    }

    func testPortableKernelsMatchSumsInDoubles() {
        var rng = RandomSource(seed: 5)
        for shape in shapes {
            let f = fixture(shape, &rng)
            for bias in [false, true] {
                let y = multiply(.portable, shape, f, bias: bias)
                for p in 0..<shape.pixels {
                    for k in 0..<shape.columns {
                        var s = bias ? Double(f.bias[k]) : 0
                        for (t, o) in shape.taps.enumerated() {
                            s += Double(f.windows[p * shape.stride + o]) * Double(f.w[t * shape.columns + k])
                        }
                        XCTAssertEqual(Double(y[p * shape.columns + k]), s, accuracy: 1e-5, "y[\(p), \(k)] of \(shape)")
                    }
                }
            }
            let (dw, db) = gradient(.portable, shape, f)
            for k in 0..<shape.columns {
                var sb = Double(f.bias[k])
                for p in 0..<shape.pixels { sb += Double(f.dy[p * shape.columns + k]) }
                XCTAssertEqual(Double(db[k]), sb, accuracy: 1e-5, "db[\(k)] of \(shape)")
                for (t, o) in shape.taps.enumerated() {
                    var s = Double(f.w[t * shape.columns + k])
                    for p in 0..<shape.pixels {
                        s += Double(f.windows[p * shape.stride + o]) * Double(f.dy[p * shape.columns + k])
                    }
                    XCTAssertEqual(Double(dw[t * shape.columns + k]), s, accuracy: 1e-5, "dw[\(t), \(k)] of \(shape)")
                }
            }
        }
    }

    func testEverySetMatchesThePortableKernelsBitForBit() {
        let sets = KernelSet.allCases.filter { $0 != .portable && $0.isSupported }
        if sets.isEmpty { print("note: only the portable kernel set runs on this CPU") }
        var rng = RandomSource(seed: 6)
        for shape in shapes {
            let f = fixture(shape, &rng)
            for set in sets {
                for bias in [false, true] {
                    XCTAssertEqual(multiply(set, shape, f, bias: bias).map(\.bitPattern),
                                   multiply(.portable, shape, f, bias: bias).map(\.bitPattern), "\(set.name) y of \(shape)")
                }
                let fast = gradient(set, shape, f), portable = gradient(.portable, shape, f)
                XCTAssertEqual(fast.dw.map(\.bitPattern), portable.dw.map(\.bitPattern), "\(set.name) dw of \(shape)")
                XCTAssertEqual(fast.db.map(\.bitPattern), portable.db.map(\.bitPattern), "\(set.name) db of \(shape)")
            }
        }
    }
}
