import XCTest
import Foundation
import Engine

final class FloatFormatTests: XCTestCase {
    private func f(_ bits: UInt32) -> Float { Float(bitPattern: bits) }
    private func p2(_ e: Int) -> Float { Float(sign: .plus, exponent: e, significand: 1) }

    /// Asserts identical bit patterns (so −0 and +0 differ), printing both in hex.
    private func assertBits(_ got: Float, _ want: Float, _ message: String = "", line: UInt = #line) {
        XCTAssertEqual(got.bitPattern, want.bitPattern,
                       "\(message) got \(got) (0x\(String(got.bitPattern, radix: 16))), want \(want)", line: line)
    }

    // MARK: fp16

    func testHalfTiesGoToEven() {
        let h = FloatFormat.fp16
        assertBits(h.round(1 + p2(-11)), 1)                        // between 1 and 1+2^-10: even is 1
        assertBits(h.round(1 + 3 * p2(-11)), 1 + p2(-9))            // between 1+2^-10 and 1+2^-9: even is up
        assertBits(h.round(-(1 + p2(-11))), -1)
        assertBits(h.round(-(1 + 3 * p2(-11))), -(1 + p2(-9)))
        assertBits(h.round(1 + p2(-11) + p2(-20)), 1 + p2(-10))     // just past the tie rounds up
        assertBits(h.round(1 + p2(-11) - p2(-20)), 1)               // just before it rounds down
        assertBits(h.round(2049), 2048)                             // integers above 2048 step by 2
        assertBits(h.round(2051), 2052)
    }

    func testHalfLargestFiniteAndOverflow() {
        let h = FloatFormat.fp16
        XCTAssertEqual(h.largestFinite, 65504)
        XCTAssertEqual(h.bits, 16)
        assertBits(h.round(65504), 65504)
        assertBits(h.round(65519), 65504)
        assertBits(h.round(f(0x477F_EFFF)), 65504)                  // the float just below 65520
        assertBits(h.round(65520), .infinity)                       // the tie goes to the even 2^16: overflow
        assertBits(h.round(-65520), -.infinity)
        assertBits(h.round(1e10), .infinity)
        assertBits(h.round(.greatestFiniteMagnitude), .infinity)
        assertBits(h.round(.infinity), .infinity)
        assertBits(h.round(-.infinity), -.infinity)
    }

    func testHalfSubnormals() {
        let h = FloatFormat.fp16
        let smallest = p2(-24)
        assertBits(h.round(smallest), smallest)
        assertBits(h.round(p2(-25)), 0)                             // tie between 0 and the smallest: 0
        assertBits(h.round(p2(-25).nextUp), smallest)                // just above the tie: smallest
        assertBits(h.round(p2(-26)), 0)                             // underflow
        assertBits(h.round(3 * p2(-25)), 2 * smallest)              // 1.5 ulps: tie to even 2
        assertBits(h.round(5 * p2(-25)), 2 * smallest)              // 2.5 ulps: tie to even 2
        assertBits(h.round(7 * p2(-25)), 4 * smallest)              // 3.5 ulps: tie to even 4
        assertBits(h.round(1023 * smallest), 1023 * smallest)       // largest subnormal
        assertBits(h.round(1023.5 * smallest), p2(-14))             // tie up to the smallest normal
        assertBits(h.round(-p2(-26)), -0.0)                         // sign kept on underflow
        assertBits(h.round(.leastNonzeroMagnitude), 0)               // fp32 subnormal
    }

    func testHalfZerosAndNaN() {
        let h = FloatFormat.fp16
        assertBits(h.round(0), 0)
        assertBits(h.round(-0.0), -0.0)
        XCTAssertTrue(h.round(.nan).isNaN)
        let signalling = f(0x7F80_0001)
        XCTAssertTrue(signalling.isNaN)
        XCTAssertTrue(h.round(signalling).isNaN)
        XCTAssertFalse(h.round(signalling).isSignalingNaN)
        XCTAssertTrue(h.round(-signalling).isNaN)
    }

    #if !(os(macOS) && arch(x86_64))
    func testHalfMatchesFloat16Conversion() {
        var rng = RandomSource(seed: 16)
        var checked = 0
        for i in 0..<200_000 {
            var bits = UInt32(truncatingIfNeeded: rng.next())
            if i % 2 == 1 {  // half the patterns inside fp16's exponent range and around it
                bits = (bits & 0x807F_FFFF) | (UInt32(99 + rng.nextInt(below: 48)) << 23)
            }
            let x = f(bits)
            let want = Float(Float16(x))
            let got = FloatFormat.fp16.round(x)
            if want.isNaN {
                XCTAssertTrue(got.isNaN, "0x\(String(bits, radix: 16))")
            } else if got.bitPattern != want.bitPattern {
                XCTFail("0x\(String(bits, radix: 16)): got \(got), Float16 gives \(want)")
                return
            }
            checked += 1
        }
        XCTAssertEqual(checked, 200_000)
    }
    #endif

    // MARK: bf16

    func testBFloatRounding() {
        let b = FloatFormat.bf16
        assertBits(b.round(1 + p2(-8)), 1)                          // tie, even down
        assertBits(b.round(1 + 3 * p2(-8)), 1 + p2(-6))             // tie, even up
        assertBits(b.round(-(1 + 3 * p2(-8))), -(1 + p2(-6)))
        assertBits(b.round(1 + p2(-8) + p2(-20)), 1 + p2(-7))
        assertBits(b.round(3.14159265), f(0x4049_0000))             // 3.140625
        assertBits(b.round(-0.0), -0.0)
        XCTAssertEqual(b.bits, 16)
    }

    func testBFloatLargestFiniteAndOverflow() {
        let b = FloatFormat.bf16
        XCTAssertEqual(b.largestFinite.bitPattern, 0x7F7F_0000)
        assertBits(b.round(b.largestFinite), b.largestFinite)
        assertBits(b.round(f(0x7F7F_7FFF)), b.largestFinite)
        assertBits(b.round(f(0x7F7F_8000)), .infinity)              // tie above an odd mantissa
        assertBits(b.round(.greatestFiniteMagnitude), .infinity)
        assertBits(b.round(-.greatestFiniteMagnitude), -.infinity)
        assertBits(b.round(.infinity), .infinity)
        assertBits(b.round(65520), 65536)                           // no fp16-style overflow
    }

    func testBFloatSubnormalsAndNaN() {
        let b = FloatFormat.bf16
        assertBits(b.round(f(0x0001_0000)), f(0x0001_0000))         // smallest bf16 subnormal 2^-133
        assertBits(b.round(f(0x0000_8000)), 0)                      // tie with zero
        assertBits(b.round(f(0x0000_8001)), f(0x0001_0000))
        assertBits(b.round(f(0x0001_8000)), f(0x0002_0000))         // tie to even
        assertBits(b.round(f(0x8000_4000)), -0.0)
        let signalling = f(0x7F80_0001)                             // payload only in the dropped bits
        XCTAssertTrue(b.round(signalling).isNaN)
        XCTAssertFalse(b.round(signalling).isSignalingNaN)
        XCTAssertTrue(b.round(f(0xFFFF_FFFF)).isNaN)
        XCTAssertEqual(b.round(f(0xFFC0_0000)).bitPattern, 0xFFC0_0000)
    }

    // MARK: tf32 and fp32

    func testTensorFloatRounding() {
        let t = FloatFormat.tf32
        XCTAssertEqual(t.bits, 19)
        assertBits(t.round(1 + p2(-11)), 1)
        assertBits(t.round(1 + 3 * p2(-11)), 1 + p2(-9))
        assertBits(t.round(65520), 65536)                           // fp32's exponent: no overflow here
        assertBits(t.round(1e30), f(0x714A_0000))                   // 0x7149F2CA: dropped 0x12CA > half, up
        XCTAssertEqual(t.largestFinite.bitPattern, 0x7F7F_E000)
        assertBits(t.round(f(0x7F7F_EFFF)), t.largestFinite)
        assertBits(t.round(f(0x7F7F_F000)), .infinity)
        assertBits(t.round(f(0x0000_1000)), 0)                      // subnormal tie with zero
        assertBits(t.round(f(0x0000_3000)), f(0x0000_4000))         // subnormal tie to even
        assertBits(t.round(-0.0), -0.0)
        XCTAssertTrue(t.round(f(0x7F80_0001)).isNaN)
    }

    func testSinglePrecisionIsIdentity() {
        let s = FloatFormat.fp32
        XCTAssertEqual(s.bits, 32)
        XCTAssertEqual(s.largestFinite, .greatestFiniteMagnitude)
        for bits: UInt32 in [0, 0x8000_0000, 0x3F80_0001, 0x0000_0001, 0x7F7F_FFFF, 0x7F80_0000, 0x7FC0_1234] {
            XCTAssertEqual(s.round(f(bits)).bitPattern, bits)
        }
    }

    func testLargestFiniteIsAFixedPointAndTheLargest() {
        for format in FloatFormat.allCases where format != .fp32 && format != .fp8 {
            XCTAssertEqual(format.round(format.largestFinite), format.largestFinite, "\(format)")
            XCTAssertEqual(format.round(format.largestFinite.nextUp), format.largestFinite, "\(format)")
            XCTAssertEqual(format.round(format.largestFinite * 1.01), .infinity, "\(format)")
        }
    }

    /// E4M3 worked by hand: 3 mantissa bits (spacing 1/8 in [1, 2)), subnormal spacing 2^-9, 448
    /// the largest finite value, NaN from 464 (halfway to the 480 the format lacks).
    func testFP8E4M3() {
        let e4m3 = FloatFormat.fp8
        assertBits(e4m3.round(1), 1)
        assertBits(e4m3.round(1.0625), 1, "1 + 1/16 is a tie: the even mantissa 000")
        assertBits(e4m3.round(1.1875), 1.25, "1 + 3/16 is a tie between 001 and 010: 010")
        assertBits(e4m3.round(-2.3), -2.25, "1.15 · 2 rounds to 1.125 · 2")
        assertBits(e4m3.round(448), 448)
        assertBits(e4m3.round(460), 448)
        XCTAssertTrue(e4m3.round(464).isNaN)
        XCTAssertTrue(e4m3.round(.infinity).isNaN, "E4M3 has no infinity")
        assertBits(e4m3.round(p2(-9)), p2(-9), "the smallest subnormal")
        assertBits(e4m3.round(p2(-10)), 0, "half the smallest subnormal ties to zero")
        assertBits(e4m3.round(3 * p2(-10)), p2(-8), "between 2^-9 (odd) and 2^-8 (even): 2^-8")
        assertBits(e4m3.round(0.0155), 0.015625, "just under 2^-6 rounds up to it")
        XCTAssertEqual(e4m3.dtype, .fp8)
        XCTAssertEqual(e4m3.storageBytes, 2, "fp8 training keeps 16-bit weights and gradients")
        XCTAssertFalse(FloatFormat.trainable.contains(.fp8))
    }

    // MARK: Buffers

    func testRoundInPlaceMatchesScalarRounding() {
        var rng = RandomSource(seed: 7)
        let n = 600_000  // large enough to be split over threads
        let source = (0..<n).map { i -> Float in
            switch i % 5 {
            case 0: return f(UInt32(truncatingIfNeeded: rng.next()))
            case 1: return rng.nextNormal() * 70_000
            case 2: return rng.nextNormal() * 1e-6
            default: return rng.nextNormal()
            }
        }
        for format in FloatFormat.allCases {
            var buffer = source
            buffer.withUnsafeMutableBufferPointer { format.roundInPlace($0.baseAddress!, count: n) }
            for i in 0..<n {
                let want = format.round(source[i])
                if want.isNaN ? !buffer[i].isNaN : buffer[i].bitPattern != want.bitPattern {
                    XCTFail("\(format) element \(i): \(buffer[i]) vs \(want)")
                    break
                }
            }
        }
    }

    func testContainsNonFinite() {
        var values = [Float](repeating: 1.5, count: 10_000)
        values.withUnsafeBufferPointer { XCTAssertFalse(FloatFormat.containsNonFinite($0.baseAddress!, count: $0.count)) }
        XCTAssertFalse(FloatFormat.containsNonFinite(values, count: 0))
        values[9_999] = .greatestFiniteMagnitude
        XCTAssertFalse(FloatFormat.containsNonFinite(values, count: values.count))
        for (position, bad) in [(0, Float.infinity), (4_095, -.infinity), (4_096, .nan), (9_999, f(0xFF80_0001))] {
            var copy = values
            copy[position] = bad
            XCTAssertTrue(FloatFormat.containsNonFinite(copy, count: copy.count), "\(bad) at \(position)")
            XCTAssertEqual(FloatFormat.containsNonFinite(copy, count: position), false)
        }
    }

    func testDecodesFormatNames() throws {
        let formats = try JSONDecoder().decode([FloatFormat].self, from: Data(#"["bf16", "fp16", "tf32", "fp32"]"#.utf8))
        XCTAssertEqual(formats, [.bf16, .fp16, .tf32, .fp32])
        XCTAssertThrowsError(try JSONDecoder().decode([FloatFormat].self, from: Data(#"["bf61"]"#.utf8))) { error in
            let config = error as? ConfigError
            XCTAssertEqual(config?.keyPath, "[0]")
            XCTAssertTrue(config?.reason.contains("Did you mean 'bf16'?") ?? false, "\(error)")
        }
    }
}
