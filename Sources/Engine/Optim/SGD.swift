/// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay.
///
/// The update is PyTorch's `torch.optim.SGD` (its documented algorithm, dampening 0), for each
/// parameter θ with gradient g, rate γ, momentum μ and decay λ:
///
///     g ← g + λθ                    (coupled L2 decay, only where `decays`)
///     b ← μb + g                    (b starts at 0, so b₁ = g₁ as in PyTorch)
///     g ← g + μb  if nesterov,  else  g ← b
///     θ ← θ − γg
///
/// With `momentum == 0` there is no buffer and no state.
///
///     let sgd = SGD(momentum: 0.9, nesterov: true, weightDecay: 5e-4)
///     sgd.step(store, learningRate: 0.1)
public final class SGD: Optimizer {
    public let momentum: Float
    public let nesterov: Bool
    public let weightDecay: Float
    public private(set) var stepCount = 0
    /// Momentum buffer b, laid out like the store (nil until the first step, or without momentum).
    private(set) var buffer: Tensor?           // (store.count)

    /// - Parameters:
    ///   - momentum: μ in [0, 1).
    ///   - nesterov: use Nesterov momentum (needs μ > 0).
    ///   - weightDecay: λ ≥ 0, added to the gradient as L2 (coupled) decay.
    public init(momentum: Float = 0, nesterov: Bool = false, weightDecay: Float = 0) {
        precondition(momentum >= 0 && momentum < 1, "SGD momentum must be in [0, 1), got \(momentum)")
        precondition(!nesterov || momentum > 0, "SGD Nesterov momentum needs momentum > 0")
        precondition(weightDecay >= 0, "SGD weight decay must be ≥ 0, got \(weightDecay)")
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
    }

    public var stateBytesPerParameter: Double { momentum > 0 ? 4 : 0 }

    public func step(_ store: ParameterStore, learningRate lr: Float) {
        let ctx = store.values.context
        if momentum > 0 { buffer = stateBuffer(buffer, for: store, optimizer: "SGD") }
        stepCount += 1
        // Per element: θ − γg (2), + λθ where decaying (2), μb + g (2), g + μb (2).
        let n = Double(store.parameterCount)
        let perElement = 2.0 + (momentum > 0 ? 2 : 0) + (nesterov ? 2 : 0)
        let state = momentum > 0 ? n : 0
        ctx.record("sgd", .optimizer, flops: perElement * n + 2 * Double(weightDecay > 0 ? store.decayingCount : 0),
                   read: 2 * n + state, written: n + state, dtype: .fp32)
        guard !ctx.isMeta else { return }

        let values = store.values.data, grads = store.grads.data
        let b = buffer?.data
        for p in store.parameters {
            let theta = values + p.offset, g = grads + p.offset
            update(theta, g, b.map { $0 + p.offset }, count: p.count,
                   lr: lr, decay: p.decays ? weightDecay : 0)
        }
    }

    /// The rule for one parameter of `count` elements.
    private func update(_ theta: UnsafeMutablePointer<Float>, _ g: UnsafeMutablePointer<Float>,
                        _ b: UnsafeMutablePointer<Float>?, count: Int, lr: Float, decay: Float) {
        let mu = momentum, nesterov = nesterov
        parallelRanges(count) { r in
            for i in r {
                var d = g[i] + decay * theta[i]
                if let b {
                    b[i] = mu * b[i] + d
                    d = nesterov ? d + mu * b[i] : b[i]
                }
                theta[i] -= lr * d
            }
        }
    }
}
