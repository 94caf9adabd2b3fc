import XCTest
import Engine
@testable import Compression

/// Sequences worked out by hand from DeepSpeed's `DynamicLossScaler.update_scale`.
final class LossScalerTests: XCTestCase {
    /// Feeds `overflows` and returns the scale after each update.
    private func scales(_ scaler: inout LossScaler, _ overflows: [Bool]) -> [Float] {
        overflows.map { overflow in
            XCTAssertEqual(scaler.update(overflow: overflow), !overflow)
            return scaler.scale
        }
    }

    func testDefaultsAreDeepSpeeds() {
        let scaler = LossScaler()
        XCTAssertEqual(scaler.scale, 65536)
        XCTAssertEqual(scaler.window, 1000)
        XCTAssertEqual(scaler.hysteresis, 2)
        XCTAssertEqual(scaler.minimumScale, 1)
        XCTAssertEqual(scaler.factor, 2)
        XCTAssertFalse(scaler.consecutiveHysteresis)
        XCTAssertTrue(scaler.isDynamic)
    }

    func testHysteresisIsSpentBeforeTheScaleHalves() {
        var scaler = LossScaler()
        // hysteresis 2 → 1 (scale kept), then every overflow halves: hysteresis is not refilled by clean steps.
        XCTAssertEqual(scales(&scaler, [true, true, false, true, false, false, true]),
                       [65536, 32768, 32768, 16384, 16384, 16384, 8192])
        XCTAssertEqual(scaler.skippedSteps, 4)
        XCTAssertEqual(scaler.steps, 7)
        XCTAssertEqual(scaler.remainingHysteresis, 1)
    }

    func testHysteresisOfOneHalvesAtOnce() {
        var scaler = LossScaler(initialScalePower: 10, hysteresis: 1)
        XCTAssertEqual(scales(&scaler, [true, true, false, true]), [512, 256, 256, 128])
    }

    func testMinimumScaleHolds() {
        var scaler = LossScaler(initialScalePower: 2, hysteresis: 1)
        XCTAssertEqual(scales(&scaler, [true, true, true, true]), [2, 1, 1, 1])
        XCTAssertEqual(scaler.skippedSteps, 4)
        var bounded = LossScaler(initialScalePower: 3, hysteresis: 1, minimumScale: 3)
        XCTAssertEqual(scales(&bounded, [true, true, true]), [4, 3, 3])
    }

    func testScaleGrowsAfterWindowCleanStepsNotBefore() {
        // Stable interval = clean steps strictly between the last overflow (step −1 at the start) and
        // the current one; the scale grows when it reaches a multiple of the window.
        var scaler = LossScaler(initialScalePower: 4, window: 3, hysteresis: 1)
        XCTAssertEqual(scales(&scaler, [false, false, false]), [16, 16, 16])
        XCTAssertEqual(scales(&scaler, [false]), [32])                          // 3 clean steps before it
        XCTAssertEqual(scales(&scaler, [false, false, false]), [32, 32, 64])    // then every 3
        // After an overflow the count restarts.
        XCTAssertEqual(scales(&scaler, [true, false, false, false, false]), [32, 32, 32, 32, 64])
        XCTAssertEqual(scaler.skippedSteps, 1)
        XCTAssertEqual(scaler.steps, 12)
    }

    func testDefaultWindowOfAThousand() {
        var scaler = LossScaler()
        for _ in 0..<1000 { scaler.update(overflow: false) }
        XCTAssertEqual(scaler.scale, 65536)
        scaler.update(overflow: false)
        XCTAssertEqual(scaler.scale, 131072)
        for _ in 0..<999 { scaler.update(overflow: false) }
        XCTAssertEqual(scaler.scale, 131072)
        scaler.update(overflow: false)
        XCTAssertEqual(scaler.scale, 262144)
        XCTAssertEqual(scaler.steps, 2001)
        XCTAssertEqual(scaler.skippedSteps, 0)
    }

    func testGrowthRefillsHysteresis() {
        var scaler = LossScaler(initialScalePower: 4, window: 2, hysteresis: 2)
        // overflow spends hysteresis (16 kept); 2 clean steps, the third doubles and refills it, so the
        // next overflow is absorbed again and only the second one halves.
        XCTAssertEqual(scales(&scaler, [true, false, false, false, true, true]), [16, 16, 16, 32, 32, 16])
    }

    func testConsecutiveHysteresisRefillsOnEveryCleanStep() {
        var plain = LossScaler(initialScalePower: 4, hysteresis: 2)
        // without it the clean step in between does not refill: the second overflow halves.
        XCTAssertEqual(scales(&plain, [true, false, true, false, true]), [16, 16, 8, 8, 4])
        var consecutive = LossScaler(initialScalePower: 4, hysteresis: 2, consecutiveHysteresis: true)
        // isolated overflows never lower the scale; two in a row do.
        XCTAssertEqual(scales(&consecutive, [true, false, true, false, true, true]), [16, 16, 16, 16, 16, 8])
        XCTAssertEqual(consecutive.skippedSteps, 4)
    }

    func testFactorIsUsedBothWays() {
        var scaler = LossScaler(initialScalePower: 8, window: 1, hysteresis: 1, factor: 4)
        XCTAssertEqual(scales(&scaler, [true, false, false, false]), [64, 64, 256, 1024])
    }

    func testFixedScaleNeverChanges() {
        var scaler = LossScaler.fixed(128)
        XCTAssertFalse(scaler.isDynamic)
        let pattern = (0..<3000).map { $0 % 7 == 3 }
        XCTAssertEqual(Set(scales(&scaler, pattern)), [128])
        XCTAssertEqual(scaler.skippedSteps, pattern.filter { $0 }.count)
        XCTAssertEqual(scaler.steps, 3000)
    }

    func testValidationNamesTheSetting() {
        XCTAssertNoThrow(try LossScaler().validate(keyPath: "fp16"))
        XCTAssertNoThrow(try LossScaler.fixed(1).validate(keyPath: "fp16"))
        let cases: [(LossScaler, String)] = [
            (LossScaler(window: 0), "fp16.loss_scale_window"),
            (LossScaler(hysteresis: 0), "fp16.hysteresis"),
            (LossScaler(minimumScale: 0), "fp16.min_loss_scale"),
            (LossScaler(factor: 1), "fp16.scale_factor"),
            (LossScaler(initialScalePower: 200), "fp16.initial_scale_power"),
            (LossScaler.fixed(-1), "fp16.loss_scale"),
        ]
        for (scaler, keyPath) in cases {
            XCTAssertThrowsError(try scaler.validate(keyPath: "fp16")) { error in
                XCTAssertEqual((error as? ConfigError)?.keyPath, keyPath)
            }
        }
    }
}
