import Foundation
import XCTest
import Engine
@testable import Compression

final class PruningMathTests: XCTestCase {
    private func mask(_ w: [Float], _ sparsity: Double) -> [Bool] {
        w.withUnsafeBufferPointer { magnitudeMask($0.baseAddress!, count: w.count, sparsity: sparsity) }
    }

    func testMagnitudeMaskPrunesAnExactCountOfTheSmallest() {
        var rng = RandomSource(seed: 21)
        for n in [1, 2, 3, 7, 10, 64, 101, 1000] {
            // Rounded to one decimal so that many magnitudes tie.
            let w = (0..<n).map { _ in (rng.nextNormal() * 10).rounded() / 10 }
            for sparsity in [0, 0.1, 0.25, 0.5, 0.9, 0.999, 1] {
                let m = mask(w, sparsity)
                let expectedKept = n - Int((sparsity * Double(n)).rounded())
                XCTAssertEqual(m.filter { $0 }.count, expectedKept, "n = \(n), sparsity = \(sparsity)")
                let kept = zip(w, m).filter { $0.1 }.map { abs($0.0) }
                let pruned = zip(w, m).filter { !$0.1 }.map { abs($0.0) }
                if let low = kept.min(), let high = pruned.max() {
                    XCTAssertGreaterThanOrEqual(low, high, "n = \(n), sparsity = \(sparsity)")
                }
            }
        }
    }

    func testTiesKeepTheLowerIndex() {
        XCTAssertEqual(mask(Array(repeating: 1, count: 10), 0.3), [true, true, true, true, true, true, true, false, false, false])
        XCTAssertEqual(mask([2, -2, 1, 2, -1], 0.4), [true, true, false, true, false])
        XCTAssertEqual(mask([2, -2, 1, 2, -1], 0.6), [true, true, false, false, false])
        XCTAssertEqual(mask([-5, 1, -0.5, 3], 0.5), [true, false, false, true])
        XCTAssertEqual(mask([1, .nan, 0], 1.0 / 3), [true, false, true])
        XCTAssertEqual(mask([], 0.5), [])
    }

    func testGlobalThresholdAcrossTensorsOfDifferentScales() {
        var rng = RandomSource(seed: 4)
        let small = (0..<100).map { _ in rng.nextFloat() }              // |w| < 1
        let large = (0..<60).map { _ in 100 + 100 * rng.nextFloat() }   // |w| ≥ 100
        func global(_ sparsity: Double) -> [[Bool]] {
            small.withUnsafeBufferPointer { a in
                large.withUnsafeBufferPointer { b in
                    globalMasks([(a.baseAddress!, a.count), (b.baseAddress!, b.count)], sparsity: sparsity)
                }
            }
        }
        let half = global(0.5)                                         // 80 of 160 pruned
        XCTAssertEqual(half.map(\.count), [100, 60])
        XCTAssertEqual(half[0].filter { $0 }.count, 20)
        XCTAssertEqual(half[1].filter { $0 }.count, 60)
        let most = global(0.75)                                        // 120 pruned: all small, 20 large
        XCTAssertEqual(most[0].filter { $0 }.count, 0)
        XCTAssertEqual(most[1].filter { $0 }.count, 40)
        let keptLarge = zip(large, most[1]).filter { $0.1 }.map(\.0)
        let prunedLarge = zip(large, most[1]).filter { !$0.1 }.map(\.0)
        XCTAssertGreaterThan(keptLarge.min()!, prunedLarge.max()!)
        // The total pruned is exact at any sparsity.
        for sparsity in [0.0, 0.13, 0.5, 0.77, 1] {
            let kept = global(sparsity).joined().filter { $0 }.count
            XCTAssertEqual(kept, 160 - Int((sparsity * 160).rounded()), "sparsity \(sparsity)")
        }
    }

    func testTaylorScores() {
        let w: [Float] = [0.5, -2, 3, 0]
        let g: [Float] = [4, 0.25, -1, 7]
        let s = w.withUnsafeBufferPointer { wp in
            g.withUnsafeBufferPointer { taylorScores(weights: wp.baseAddress!, gradients: $0.baseAddress!, count: 4) }
        }
        XCTAssertEqual(s, [2, 0.5, 3, 0])
    }

    func testChannelNormsOfLinearRows() {
        let w: [Float] = [1, -2, 3,                                     // (out 2, in 3)
                          -4, 0, 0]
        let l1 = w.withUnsafeBufferPointer { channelNorms($0.baseAddress!, shape: [2, 3], channelAxis: 0, norm: .l1) }
        let l2 = w.withUnsafeBufferPointer { channelNorms($0.baseAddress!, shape: [2, 3], channelAxis: 0, norm: .l2) }
        XCTAssertEqual(l1, [6, 4])
        XCTAssertEqual(l2[0], Float(14).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(l2[1], 4, accuracy: 1e-6)
        let columns = w.withUnsafeBufferPointer { channelNorms($0.baseAddress!, shape: [2, 3], channelAxis: 1, norm: .l1) }
        XCTAssertEqual(columns, [5, 2, 3])
    }

    func testChannelNormsWithChannelsLast() {
        let (k, cin, cout) = (3, 2, 4)                                  // (k, k, cin, cout)
        var rng = RandomSource(seed: 8)
        let w = (0..<(k * k * cin * cout)).map { _ in rng.nextNormal() }
        var l1 = [Double](repeating: 0, count: cout), l2 = [Double](repeating: 0, count: cout)
        for y in 0..<k {
            for x in 0..<k {
                for i in 0..<cin {
                    for o in 0..<cout {
                        let v = Double(w[((y * k + x) * cin + i) * cout + o])
                        l1[o] += abs(v)
                        l2[o] += v * v
                    }
                }
            }
        }
        let shape = [k, k, cin, cout]
        let got1 = w.withUnsafeBufferPointer { channelNorms($0.baseAddress!, shape: shape, channelAxis: 3, norm: .l1) }
        let got2 = w.withUnsafeBufferPointer { channelNorms($0.baseAddress!, shape: shape, channelAxis: 3, norm: .l2) }
        for o in 0..<cout {
            XCTAssertEqual(Double(got1[o]), l1[o], accuracy: 1e-5)
            XCTAssertEqual(Double(got2[o]), l2[o].squareRoot(), accuracy: 1e-5)
        }
    }

    func testKeptChannels() {
        XCTAssertEqual(keptChannels([0.1, 3, 2, 0.5], ratio: 0.5), [1, 2])
        XCTAssertEqual(keptChannels([0.1, 3, 2, 0.5], ratio: 0.25), [1, 2, 3])
        XCTAssertEqual(keptChannels([0.1, 3, 2, 0.5], ratio: 1), [1])
        XCTAssertEqual(keptChannels([0.1, 3, 2, 0.5], ratio: 0.9, minimum: 2), [1, 2])
        XCTAssertEqual(keptChannels([0.1, 3, 2, 0.5], ratio: 0, minimum: 9), [0, 1, 2, 3])
        XCTAssertEqual(keptChannels([1, 1, 1, 1], ratio: 0.5), [0, 1])
        XCTAssertEqual(keptChannels([2, 5, 1, 5, 4, 3], ratio: 0.5), [1, 3, 4])
        XCTAssertEqual(keptChannels([], ratio: 0.5), [])
    }

    func testChannelNormNamesInJSON() throws {
        XCTAssertEqual(try JSONDecoder().decode([ChannelNorm].self, from: Data(#"["l1", "l2"]"#.utf8)), [.l1, .l2])
        XCTAssertThrowsError(try JSONDecoder().decode([ChannelNorm].self, from: Data(#"["l3"]"#.utf8))) { error in
            let e = error as? ConfigError
            XCTAssertEqual(e?.keyPath, "[0]")
            XCTAssertTrue(e?.reason.contains("valid: l1, l2") ?? false, "\(error)")
        }
    }

    func testApplyMaskZeroesPrunedEntries() {
        var p: [Float] = [1, 2, 3, 4]
        p.withUnsafeMutableBufferPointer { applyMask([true, false, true, false], to: $0.baseAddress!) }
        XCTAssertEqual(p, [1, 0, 3, 0])
    }

    // MARK: - Gradual schedule

    func testGradualScheduleWorkedValues() {
        let s = GradualSchedule(initialSparsity: 0.1, finalSparsity: 0.9, startStep: 100, endStep: 300, frequency: 50)
        XCTAssertEqual(s.sparsity(atStep: 0), 0.1)
        XCTAssertEqual(s.sparsity(atStep: 100), 0.1, accuracy: 1e-12)
        XCTAssertEqual(s.sparsity(atStep: 200), 0.9 - 0.8 * 0.125, accuracy: 1e-12)   // (1 − ½)³
        XCTAssertEqual(s.sparsity(atStep: 150), 0.9 - 0.8 * 0.421875, accuracy: 1e-12) // (1 − ¼)³
        XCTAssertEqual(s.sparsity(atStep: 300), 0.9)
        XCTAssertEqual(s.sparsity(atStep: 5000), 0.9)
        var previous = 0.0
        for step in 0...400 {
            let value = s.sparsity(atStep: step)
            XCTAssertGreaterThanOrEqual(value, previous, "step \(step)")
            previous = value
        }
        XCTAssertEqual((0...400).filter(s.isPruningStep), [100, 150, 200, 250, 300])
        let uneven = GradualSchedule(finalSparsity: 0.5, endStep: 10, frequency: 4)
        XCTAssertEqual((0...20).filter(uneven.isPruningStep), [0, 4, 8, 10])
        XCTAssertEqual(uneven.sparsity(atStep: 0), 0)
    }

    func testOneShotSchedule() {
        let s = GradualSchedule.oneShot(sparsity: 0.7, atStep: 5)
        XCTAssertEqual(s.sparsity(atStep: 4), 0)
        XCTAssertEqual(s.sparsity(atStep: 5), 0.7)
        XCTAssertEqual(s.sparsity(atStep: 50), 0.7)
        XCTAssertEqual((0...20).filter(s.isPruningStep), [5])
    }

    func testScheduleJSON() throws {
        func decode(_ json: String) throws -> GradualSchedule {
            try JSONDecoder().decode(GradualSchedule.self, from: Data(json.utf8))
        }
        let s = try decode(#"{"final_sparsity": 0.8, "end_step": 1000, "frequency": 100}"#)
        XCTAssertEqual(s, GradualSchedule(initialSparsity: 0, finalSparsity: 0.8, startStep: 0, endStep: 1000, frequency: 100))
        XCTAssertEqual(try decode(String(decoding: try JSONEncoder().encode(s), as: UTF8.self)), s)
        let cases: [(String, ConfigError)] = [
            (#"{"final_sparsity": 1, "end_step": 10}"#, ConfigError(keyPath: "final_sparsity", reason: "must be in [0, 1), got 1.0")),
            (#"{"final_sparsity": 0.5, "start_step": 20, "end_step": 10}"#,
             ConfigError(keyPath: "end_step", reason: "must be at least start_step (20), got 10")),
            (#"{"final_sparsity": 0.5, "end_step": 10, "frequency": 0}"#, ConfigError(keyPath: "frequency", reason: "must be at least 1, got 0")),
            (#"{"initial_sparsity": 0.6, "final_sparsity": 0.5, "end_step": 10}"#,
             ConfigError(keyPath: "initial_sparsity", reason: "must be between 0 and final_sparsity (0.5), got 0.6")),
            (#"{"end_step": 10}"#, ConfigError(keyPath: "final_sparsity", reason: "missing (a number)")),
            (#"{"final_sparsity": "most", "end_step": 10}"#, ConfigError(keyPath: "final_sparsity", reason: "expected a number")),
        ]
        for (json, expected) in cases {
            XCTAssertThrowsError(try decode(json), json) { XCTAssertEqual($0 as? ConfigError, expected, json) }
        }
        XCTAssertThrowsError(try decode(#"{"final_sparsity": 0.5, "end_stp": 10}"#)) { error in
            XCTAssertTrue((error as? ConfigError)?.reason.contains("Did you mean 'end_step'?") ?? false, "\(error)")
        }
    }
}
