import Foundation

/// Adam with decoupled weight decay (Loshchilov & Hutter 2019, "Decoupled Weight Decay
/// Regularization"), in the form of PyTorch's `torch.optim.AdamW` documentation. For each
/// parameter θ with gradient g at step t, rate γ and decay λ:
///
///     θ ← θ − γλθ                   (decoupled decay, only where `decays`)
///     m ← β₁m + (1 − β₁)g
///     v ← β₂v + (1 − β₂)g²
///     θ ← θ − γ · m̂ / (√v̂ + ε),    m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)
///
/// computed in PyTorch's arrangement, θ ← θ − (γ / (1 − β₁ᵗ)) · m / (√v · (1 / √(1 − β₂ᵗ)) + ε).
/// `AdamW.adam()` is Adam (Kingma & Ba 2015): the same rule without decay.
///
///     let adamw = AdamW(weightDecay: 0.1)
///     adamw.step(store, learningRate: 3e-4)
public final class AdamW: Optimizer {
    /// The two moment estimates, each laid out like the store.
    struct State {
        let m: Tensor                          // (store.count) first moment
        let v: Tensor                          // (store.count) second moment
    }

    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    public let weightDecay: Float
    public private(set) var stepCount = 0
    private(set) var state: State?

    /// - Parameters:
    ///   - beta1, beta2: moment decay rates in [0, 1).
    ///   - epsilon: ε > 0 added to √v̂.
    ///   - weightDecay: λ ≥ 0, applied decoupled (scaled by the learning rate, not the gradient).
    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01) {
        precondition(beta1 >= 0 && beta1 < 1, "AdamW beta1 must be in [0, 1), got \(beta1)")
        precondition(beta2 >= 0 && beta2 < 1, "AdamW beta2 must be in [0, 1), got \(beta2)")
        precondition(epsilon > 0, "AdamW epsilon must be positive, got \(epsilon)")
        precondition(weightDecay >= 0, "AdamW weight decay must be ≥ 0, got \(weightDecay)")
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    /// Adam (Kingma & Ba 2015): AdamW with no weight decay.
    public static func adam(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) -> AdamW {
        AdamW(beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: 0)
    }

    public var stateBytesPerParameter: Double { 8 }

    public func step(_ store: ParameterStore, learningRate lr: Float) {
        step(store, learningRate: lr, zeroingGradients: false)
    }

    /// The step, each gradient overwritten with zero right after the update reads it.
    public func stepZeroingGradients(_ store: ParameterStore, learningRate lr: Float) {
        step(store, learningRate: lr, zeroingGradients: true)
    }

    private func step(_ store: ParameterStore, learningRate lr: Float, zeroingGradients zeroing: Bool) {
        let ctx = store.values.context
        let s = State(m: stateBuffer(state?.m, for: store, optimizer: "AdamW"),
                      v: stateBuffer(state?.v, for: store, optimizer: "AdamW"))
        state = s
        stepCount += 1
        // Per element: m (3), v (4), √v/√bc₂ + ε (3), m/denominator·step size and θ − (3);
        // decoupled decay θ·(1 − γλ) (1) where decaying.
        let n = Double(store.parameterCount)
        ctx.record("adamw", .optimizer, flops: 13 * n + Double(weightDecay > 0 ? store.decayingCount : 0),
                   read: 4 * n, written: 3 * n, dtype: .fp32)
        if zeroing { store.recordZeroing() }
        guard !ctx.isMeta else { return }

        let t = Double(stepCount)
        let stepSize = Float(Double(lr) / (1 - pow(Double(beta1), t)))
        // 1/√(1 − β₂ᵗ), so the per-element rule multiplies instead of dividing twice.
        let inverseCorrection2 = Float(1 / (1 - pow(Double(beta2), t)).squareRoot())
        let values = store.values.data, grads = store.grads.data, m = s.m.data, v = s.v.data
        let decayed = 1 - lr * weightDecay
        store.forEachSlice { o, count, decays in
            update(values + o, grads + o, m + o, v + o, count: count,
                   keep: decays ? decayed : 1, stepSize: stepSize, inverseCorrection2: inverseCorrection2, zeroing: zeroing)
        }
        // The alignment padding between parameters is no parameter's slice; its gradients stay zero.
    }

    /// The rule for one parameter of `count` elements; `keep` = 1 − γλ is the decoupled decay;
    /// `zeroing` leaves the gradient zero.
    /// Eight lanes at a time (`squareRoot8` is one vector instruction, where `Float.squareRoot()`
    /// keeps a libm call that blocks vectorisation). Each lane does the same IEEE operations as the
    /// scalar tail, so results do not depend on the split.
    private func update(_ theta: UnsafeMutablePointer<Float>, _ g: UnsafeMutablePointer<Float>,
                        _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>,
                        count: Int, keep: Float, stepSize: Float, inverseCorrection2: Float, zeroing: Bool) {
        let b1 = beta1, b2 = beta2, eps = epsilon
        for i in 0..<count / 8 {
                let o = 8 * i
                let gi = load8(g + o)
                if zeroing { store8(.zero, g + o) }
                let mi = b1 * load8(m + o) + (1 - b1) * gi
                let vi = b2 * load8(v + o) + (1 - b2) * gi * gi
                store8(mi, m + o)
                store8(vi, v + o)
                store8(load8(theta + o) * keep - stepSize * mi / (squareRoot8(vi) * inverseCorrection2 + eps), theta + o)
        }
        for i in (count / 8 * 8)..<count {
            let gi = g[i]
            if zeroing { g[i] = 0 }
            let mi = b1 * m[i] + (1 - b1) * gi
            let vi = b2 * v[i] + (1 - b2) * gi * gi
            m[i] = mi
            v[i] = vi
            theta[i] = theta[i] * keep - stepSize * mi / (vi.squareRoot() * inverseCorrection2 + eps)
        }
    }
}
