import Foundation
import Engine

/// AdamW's hyperparameters, shared by Engine's whole-store `AdamW` and the sharded update.
public struct AdamSettings: Sendable, Equatable {
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    public var weightDecay: Float

    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01) {
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
    }

    /// Adam (Kingma & Ba 2015): no weight decay.
    public static let adam = AdamSettings(weightDecay: 0)

    /// Engine's optimizer with these settings, for a rank that steps its whole store.
    public func makeAdamW() -> AdamW {
        AdamW(beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay)
    }
}

/// AdamW over one contiguous range of a model's flat parameter buffer: the update a ZeRO rank
/// applies to its shard (Rajbhandari et al. 2019, §5.1: each rank keeps the optimizer states of
/// 1/Nd of the parameters and updates only those), or a pipeline stage to its layers.
///
/// Engine's `AdamW` steps a whole `ParameterStore` and cannot be pointed at a sub-range, so this
/// is the same rule in the same arrangement (PyTorch's `torch.optim.AdamW` documentation, as
/// `Engine.AdamW` computes it), element for element:
///
///     θ ← θ·(1 − γλ) − (γ / (1 − β₁ᵗ)) · m / (√v · (1 / √(1 − β₂ᵗ)) + ε)
///
/// with the decay only on parameters whose `decays` is true and the alignment padding between
/// parameters never written. Engine's vector lanes perform the same IEEE operations as its scalar
/// tail, so the result matches a one-rank `AdamW` bit for bit on the same gradients.
///
///     let adam = ShardedAdamW(range: 0 ..< 256, parameters: store.parameters, context: ctx, settings: .adam)
///     adam.step(values: store.values.data, gradients: store.grads.data, learningRate: 1e-3)
public final class ShardedAdamW {
    /// The elements of the flat buffer this optimizer owns.
    public let range: Range<Int>
    public let settings: AdamSettings
    public private(set) var stepCount = 0
    let m: Tensor                                   // (range.count) first moment
    let v: Tensor                                   // (range.count) second moment
    /// The parts of parameters inside `range`, as offsets from `range.lowerBound`.
    private let slices: [(offset: Int, count: Int, decays: Bool)]

    /// - Parameters:
    ///   - range: the elements of the flat buffer to update.
    ///   - parameters: the model's parameters (their offsets locate them in the flat buffer).
    ///   - context: where the two moment buffers are allocated (and reported).
    public init(range: Range<Int>, parameters: [Parameter], context: ExecutionContext, settings: AdamSettings) {
        self.range = range
        self.settings = settings
        slices = parameters.compactMap { p in
            let lo = max(p.offset, range.lowerBound), hi = min(p.offset + p.count, range.upperBound)
            return lo < hi ? (lo - range.lowerBound, hi - lo, p.decays) : nil
        }
        m = Tensor(shape: [range.count], context: context)
        v = Tensor(shape: [range.count], context: context)
    }

    /// Bytes of optimizer state held: the two moments.
    public var stateBytes: Double { m.bytes + v.bytes }

    /// Update the owned range.
    /// - Parameters:
    ///   - values: the parameters of `range`, element `range.lowerBound` first.
    ///   - gradients: their gradients, laid out the same way.
    ///   - learningRate: this step's γ.
    public func step(values: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, learningRate lr: Float) {
        stepCount += 1
        let n = slices.reduce(0) { $0 + $1.count }
        let decaying = slices.reduce(0) { $0 + ($1.decays ? $1.count : 0) }
        let ctx = m.context
        ctx.record("adamw.shard", .optimizer, flops: 13 * Double(n) + Double(settings.weightDecay > 0 ? decaying : 0),
                   read: 4 * Double(n), written: 3 * Double(n), dtype: .fp32)
        guard !ctx.isMeta else { return }

        let b1 = settings.beta1, b2 = settings.beta2, eps = settings.epsilon
        let t = Double(stepCount)
        let stepSize = Float(Double(lr) / (1 - pow(Double(b1), t)))
        let inverseCorrection2 = Float(1 / (1 - pow(Double(b2), t)).squareRoot())
        let decayed = 1 - lr * settings.weightDecay
        let m = self.m.data, v = self.v.data
        for slice in slices {
            let keep: Float = slice.decays ? decayed : 1
            for i in slice.offset ..< slice.offset + slice.count {
                let gi = gradients[i]
                let mi = b1 * m[i] + (1 - b1) * gi
                let vi = b2 * v[i] + (1 - b2) * gi * gi
                m[i] = mi
                v[i] = vi
                values[i] = values[i] * keep - stepSize * mi / (vi.squareRoot() * inverseCorrection2 + eps)
            }
        }
    }
}
