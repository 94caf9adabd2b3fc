import Engine

/// Dynamic loss scaling for fp16 training, with DeepSpeed's `DynamicLossScaler` update rule.
///
/// Multiply the loss by `scale` before backward, check the gradients for inf/NaN, then call
/// `update(overflow:)`; it says whether to take the optimizer step (after unscaling by 1/scale).
///
///     var scaler = LossScaler()                       // 2^16, window 1000, hysteresis 2
///     let overflow = FloatFormat.containsNonFinite(grads, count: n)
///     if scaler.update(overflow: overflow) { /* unscale, optimizer step */ }
///
/// The sequence (Micikevicius et al. 2018, "Mixed Precision Training"; DeepSpeed's
/// `runtime/fp16/loss_scaler.py`):
/// - an overflow skips the step; while more than one unit of hysteresis remains it only spends
///   one, otherwise the scale is divided by `factor`, never below `minimumScale`;
/// - a clean step whose stable interval — clean steps strictly between the last overflow and it
///   (the first step counts as following an overflow) — is a positive multiple of `window` multiplies
///   the scale by `factor` and refills the hysteresis. So after `window` clean steps the next clean
///   step raises the scale, and then every `window` clean steps again;
/// - with `consecutiveHysteresis` every clean step refills the hysteresis, so only `hysteresis`
///   overflows in a row lower the scale.
public struct LossScaler: Equatable, Sendable {
    /// The current loss scale S.
    public private(set) var scale: Float
    /// Steps skipped because the gradients overflowed.
    public private(set) var skippedSteps: Int = 0
    /// Calls to `update(overflow:)` so far.
    public private(set) var steps: Int = 0

    /// False for a fixed scale (`LossScaler.fixed`), which never changes.
    public let isDynamic: Bool
    public let window: Int
    public let hysteresis: Int
    public let minimumScale: Float
    public let factor: Float
    public let consecutiveHysteresis: Bool

    /// Hysteresis left before an overflow lowers the scale.
    public private(set) var remainingHysteresis: Int
    /// The step index of the most recent overflow (−1 before any).
    private var lastOverflowStep = -1

    /// A dynamic scaler starting at 2^`initialScalePower` (DeepSpeed's `fp16` defaults).
    /// - Parameters:
    ///   - initialScalePower: the initial scale is 2^initialScalePower.
    ///   - window: clean steps before the scale grows.
    ///   - hysteresis: overflows tolerated (DeepSpeed's `delayed_shift`) before the scale drops.
    ///   - minimumScale: the scale never drops below this.
    ///   - factor: the scale is divided or multiplied by this.
    ///   - consecutiveHysteresis: refill the hysteresis on every clean step.
    public init(initialScalePower: Int = 16, window: Int = 1000, hysteresis: Int = 2, minimumScale: Float = 1,
                factor: Float = 2, consecutiveHysteresis: Bool = false) {
        self.scale = Float(sign: .plus, exponent: initialScalePower, significand: 1)
        self.isDynamic = true
        self.window = window
        self.hysteresis = hysteresis
        self.minimumScale = minimumScale
        self.factor = factor
        self.consecutiveHysteresis = consecutiveHysteresis
        self.remainingHysteresis = hysteresis
    }

    private init(fixedScale: Float) {
        self.scale = fixedScale
        self.isDynamic = false
        self.window = 1
        self.hysteresis = 1
        self.minimumScale = fixedScale
        self.factor = 1
        self.consecutiveHysteresis = false
        self.remainingHysteresis = 1
    }

    /// A static loss scale: overflowing steps are still skipped, the scale never changes.
    ///
    ///     var scaler = LossScaler.fixed(128)
    public static func fixed(_ scale: Float) -> LossScaler {
        LossScaler(fixedScale: scale)
    }

    /// Records one step's overflow check; returns true when the optimizer step should be taken.
    @discardableResult
    public mutating func update(overflow: Bool) -> Bool {
        defer { steps += 1 }
        if overflow { skippedSteps += 1 }
        guard isDynamic else { return !overflow }
        if overflow {
            if hysteresis <= 1 || remainingHysteresis <= 1 {
                scale = max(scale / factor, minimumScale)
            } else {
                remainingHysteresis -= 1
            }
            lastOverflowStep = steps
            return false
        }
        if consecutiveHysteresis { remainingHysteresis = hysteresis }
        let stableInterval = steps - lastOverflowStep - 1
        if window > 0, stableInterval > 0, stableInterval % window == 0 {
            if !consecutiveHysteresis { remainingHysteresis = hysteresis }
            scale *= factor
        }
        return true
    }

    /// Throws a `ConfigError` under `keyPath` for settings the update rule cannot work with.
    public func validate(keyPath: String) throws {
        func fail(_ key: String, _ reason: String) -> ConfigError {
            ConfigError(keyPath: ConfigError.join(keyPath, key), reason: reason)
        }
        guard scale.isFinite, scale > 0 else {
            throw fail(isDynamic ? "initial_scale_power" : "loss_scale",
                       "the loss scale must be a positive finite number, got \(scale)")
        }
        guard isDynamic else { return }
        guard window >= 1 else { throw fail("loss_scale_window", "must be at least 1, got \(window)") }
        guard hysteresis >= 1 else { throw fail("hysteresis", "must be at least 1, got \(hysteresis)") }
        guard minimumScale.isFinite, minimumScale > 0 else {
            throw fail("min_loss_scale", "must be positive, got \(ConfigError.format(minimumScale))")
        }
        guard factor.isFinite, factor > 1 else {
            throw fail("scale_factor", "must be greater than 1, got \(ConfigError.format(factor))")
        }
    }
}
