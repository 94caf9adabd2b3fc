import Foundation

/// Layer-wise adaptive moments for large batches (You et al. 2019, "Large Batch Optimization for
/// Deep Learning: Training BERT in 76 minutes", Algorithm 2). For each parameter tensor θ with
/// gradient g at step t, rate γ and decay λ:
///
///     m ← β₁m + (1 − β₁)g,     v ← β₂v + (1 − β₂)g²
///     r ← m̂ / (√v̂ + ε) + λθ,   m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)   (λθ only where `decays`)
///     θ ← θ − γ · ratio · r,    ratio = clip(‖θ‖ / ‖r‖, 0, maxTrustRatio), or 1 when either norm is 0
///
/// The paper scales by φ(‖θ‖)/‖r‖ with φ a clipping function it leaves open; this uses the common
/// form that clips the ratio itself, as DeepSpeed's `FusedLamb` (`max_coeff`) and timm's `Lamb`
/// (`trust_clip`) do, with no lower clip. Norms are per parameter tensor (the paper's "layer"),
/// taken before the update, in Double, and summed in fixed blocks so they do not depend on the
/// thread count. Every tensor is adapted, decaying or not.
///
///     let lamb = LAMB(weightDecay: 0.01)
///     lamb.step(store, learningRate: 2e-3)
public final class LAMB: Optimizer {
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    public let weightDecay: Float
    public let maxTrustRatio: Float
    public private(set) var stepCount = 0
    private(set) var state: AdamW.State?
    /// The trust ratio each parameter got at the last step, in store order (tests, diagnostics).
    public private(set) var lastTrustRatios: [Float] = []

    /// - Parameters:
    ///   - beta1, beta2: moment decay rates in [0, 1).
    ///   - epsilon: ε > 0 added to √v̂.
    ///   - weightDecay: λ ≥ 0, added to the Adam direction before the trust ratio.
    ///   - maxTrustRatio: upper clip of ‖θ‖/‖r‖ (> 0).
    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-6,
                weightDecay: Float = 0.01, maxTrustRatio: Float = 10) {
        precondition(beta1 >= 0 && beta1 < 1, "LAMB beta1 must be in [0, 1), got \(beta1)")
        precondition(beta2 >= 0 && beta2 < 1, "LAMB beta2 must be in [0, 1), got \(beta2)")
        precondition(epsilon > 0, "LAMB epsilon must be positive, got \(epsilon)")
        precondition(weightDecay >= 0, "LAMB weight decay must be ≥ 0, got \(weightDecay)")
        precondition(maxTrustRatio > 0, "LAMB maxTrustRatio must be positive, got \(maxTrustRatio)")
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.maxTrustRatio = maxTrustRatio
    }

    public var stateBytesPerParameter: Double { 8 }

    public func step(_ store: ParameterStore, learningRate lr: Float) {
        let ctx = store.values.context
        let s = AdamW.State(m: stateBuffer(state?.m, for: store, optimizer: "LAMB"),
                            v: stateBuffer(state?.v, for: store, optimizer: "LAMB"))
        state = s
        stepCount += 1
        // Per element, first pass: m (3), v (4), r (5, + 2 for λθ where decaying), ‖θ‖² and ‖r‖² (4);
        // second pass: r again (5, + 2) and θ − γ·ratio·r (2). Reads θ, g, m, v then θ, m, v.
        let n = Double(store.parameterCount)
        let decaying = Double(weightDecay > 0 ? store.decayingCount : 0)
        ctx.record("lamb", .optimizer, flops: 23 * n + 4 * decaying, read: 7 * n, written: 3 * n, dtype: .fp32)
        if lastTrustRatios.count != store.parameters.count {
            lastTrustRatios = [Float](repeating: 1, count: store.parameters.count)
        }
        guard !ctx.isMeta else { return }

        let t = Double(stepCount)
        let correction1 = Float(1 - pow(Double(beta1), t))
        let correction2 = Float(1 - pow(Double(beta2), t))
        let values = store.values.data, grads = store.grads.data, m = s.m.data, v = s.v.data
        for (index, p) in store.parameters.enumerated() {
            let o = p.offset
            lastTrustRatios[index] = update(values + o, grads + o, m + o, v + o, count: p.count, lr: lr,
                                            decay: p.decays ? weightDecay : 0,
                                            correction1: correction1, correction2: correction2)
        }
    }

    /// The rule for one parameter tensor of `count` elements; returns its trust ratio.
    /// Eight lanes at a time with `squareRoot8` (`Float.squareRoot()` keeps a libm call that blocks
    /// vectorisation), each lane doing the scalar tail's IEEE operations; the norms' squares are
    /// still added one element at a time in index order, so the result does not depend on the lanes.
    private func update(_ theta: UnsafeMutablePointer<Float>, _ g: UnsafeMutablePointer<Float>,
                        _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>,
                        count: Int, lr: Float, decay: Float, correction1: Float, correction2: Float) -> Float {
        let b1 = beta1, b2 = beta2, eps = epsilon
        @inline(__always) func direction(_ i: Int) -> Float {
            (m[i] / correction1) / ((v[i] / correction2).squareRoot() + eps) + decay * theta[i]
        }
        @inline(__always) func direction8(_ i: Int) -> SIMD8<Float> {
            (load8(m + i) / correction1) / (squareRoot8(load8(v + i) / correction2) + eps) + decay * load8(theta + i)
        }
        // Pass 1: moments, and the squared norms of θ (x) and r (y).
        let squares = blockwiseSum(count) { r in
            var s = SIMD2<Double>.zero
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                let gi = load8(g + i)
                store8(b1 * load8(m + i) + (1 - b1) * gi, m + i)
                store8(b2 * load8(v + i) + (1 - b2) * gi * gi, v + i)
                let ri = direction8(i), ti = load8(theta + i)
                for lane in 0..<8 {
                    let rd = Double(ri[lane]), td = Double(ti[lane])
                    s += SIMD2(td * td, rd * rd)
                }
                i += 8
            }
            for i in i..<r.upperBound {
                let gi = g[i]
                m[i] = b1 * m[i] + (1 - b1) * gi
                v[i] = b2 * v[i] + (1 - b2) * gi * gi
                let ri = Double(direction(i)), ti = Double(theta[i])
                s += SIMD2(ti * ti, ri * ri)
            }
            return s
        }
        let weightNorm = squares.x.squareRoot(), updateNorm = squares.y.squareRoot()
        let ratio = weightNorm > 0 && updateNorm > 0
            ? Float(min(weightNorm / updateNorm, Double(maxTrustRatio))) : 1
        // Pass 2: θ ← θ − γ·ratio·r, with r recomputed from the new moments and the old θ.
        let scale = lr * ratio
        parallelRanges(count) { r in
            var i = r.lowerBound
            while i + 8 <= r.upperBound {
                store8(load8(theta + i) - scale * direction8(i), theta + i)
                i += 8
            }
            for i in i..<r.upperBound { theta[i] -= scale * direction(i) }
        }
        return ratio
    }
}
