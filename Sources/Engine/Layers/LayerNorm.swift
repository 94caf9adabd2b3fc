import Foundation

/// Layer normalisation over the last dimension (Ba, Kiros & Hinton 2016):
/// y = γ ⊙ (x − μ) / √(σ² + ε) + β, with μ and σ² (biased) taken over each row's features.
///
///     let norm = LayerNorm("ln1", 64)          // x: (batch, tokens, 64) → same shape
///
/// Only the per-row mean and 1/σ are cached for backward; x̂ is recomputed from the input (as llm.c
/// does), which keeps the saved activations at two floats per row.
public final class LayerNorm: Layer {
    public let name: String
    public let features: Int
    public let epsilon: Float
    public let scale: Parameter           // γ (features)
    public let shift: Parameter           // β (features)
    public var needsInputGradient = true
    private var input: Tensor?
    private var mean: Tensor?             // (rows)
    private var inverseStd: Tensor?       // (rows)
    private var out: Tensor?
    private var dx: Tensor?

    /// FLOPs per element charged to the trace: mean 1, variance 3, normalise 2, affine 2.
    static let forwardFlopsPerElement = 8.0
    /// Backward: γ and β gradients 3 per element; input gradient 8 more.
    static let parameterGradientFlopsPerElement = 3.0
    static let inputGradientFlopsPerElement = 8.0

    /// - Parameters:
    ///   - features: size of the last dimension.
    ///   - epsilon: added to the variance (PyTorch's default 1e-5).
    public init(_ name: String = "layernorm", _ features: Int, epsilon: Float = 1e-5) {
        precondition(features > 0, "\(name): features must be positive, got \(features)")
        self.name = name
        self.features = features
        self.epsilon = epsilon
        scale = Parameter(name + ".scale", shape: [features], decays: false)
        shift = Parameter(name + ".shift", shape: [features], decays: false)
    }

    public var parameters: [Parameter] { [scale, shift] }

    public func outputShape(for input: [Int]) throws -> [Int] {
        guard input.last == features else {
            throw ShapeError(name, "normalises \(features) features, got shape \(input)")
        }
        return input
    }

    /// γ = 1, β = 0.
    public func initialize(using rng: inout RandomSource) {
        scale.value.fill(1)
        shift.value.fill(0)
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let ctx = x.context
        let rows = x.count / features
        let o = ctx.buffer(out, x.shape); out = o
        let mu = ctx.buffer(mean, [rows]); mean = mu
        let rs = ctx.buffer(inverseStd, [rows]); inverseStd = rs
        input = x
        ctx.record(name, .normalization, flops: Self.forwardFlopsPerElement * Double(x.count),
                   read: Double(x.count + 2 * features), written: Double(x.count + 2 * rows))
        guard !ctx.isMeta else { return o }
        let f = features, eps = epsilon
        let src = x.data, dst = o.data, m = mu.data, r = rs.data
        let gamma = scale.value.data, beta = shift.value.data
        parallelRanges(rows, minimumPerThread: max(1, 16_384 / f)) { range in
            for i in range {
                let row = src + i * f, y = dst + i * f
                var sum: Float = 0
                for c in 0..<f { sum += row[c] }
                let mean = sum / Float(f)
                var sq: Float = 0
                for c in 0..<f { let d = row[c] - mean; sq += d * d }
                let inv = 1 / (sq / Float(f) + eps).squareRoot()
                m[i] = mean; r[i] = inv
                for c in 0..<f { y[c] = (row[c] - mean) * inv * gamma[c] + beta[c] }
            }
        }
        return o
    }

    /// With g = dy ⊙ γ: dx = (1/σ)·(g − mean(g) − x̂·mean(g ⊙ x̂)); dγ += Σ dy ⊙ x̂; dβ += Σ dy.
    public func backward(_ dy: Tensor) -> Tensor? {
        guard let x = input, let mu = mean, let rs = inverseStd else { preconditionFailure("\(name): backward before forward") }
        let ctx = dy.context
        let rows = dy.count / features
        let n = Double(dy.count)
        ctx.record(name + ".dparams", .normalization, flops: Self.parameterGradientFlopsPerElement * n,
                   read: 2 * n + Double(2 * rows), written: Double(2 * features))
        var g: Tensor?
        if needsInputGradient {
            g = ctx.buffer(dx, x.shape); dx = g
            ctx.record(name + ".dx", .normalization, flops: Self.inputGradientFlopsPerElement * n,
                       read: 2 * n + Double(2 * rows + features), written: n)
        }
        guard !ctx.isMeta else { return g }
        let f = features
        let xs = x.data, gy = dy.data, m = mu.data, r = rs.data
        let gamma = scale.value.data, dGamma = scale.grad.data, dBeta = shift.grad.data
        for i in 0..<rows {
            let row = xs + i * f, grow = gy + i * f
            let mean = m[i], inv = r[i]
            for c in 0..<f {
                dGamma[c] += grow[c] * (row[c] - mean) * inv
                dBeta[c] += grow[c]
            }
        }
        guard let g else { return nil }
        let gx = g.data
        parallelRanges(rows, minimumPerThread: max(1, 16_384 / f)) { range in
            for i in range {
                let row = xs + i * f, grow = gy + i * f, out = gx + i * f
                let mean = m[i], inv = r[i]
                var sumG: Float = 0, sumGX: Float = 0
                for c in 0..<f {
                    let gc = grow[c] * gamma[c]
                    sumG += gc
                    sumGX += gc * (row[c] - mean) * inv
                }
                let meanG = sumG / Float(f), meanGX = sumGX / Float(f)
                for c in 0..<f {
                    let xhat = (row[c] - mean) * inv
                    out[c] = inv * (grow[c] * gamma[c] - meanG - xhat * meanGX)
                }
            }
        }
        return g
    }
}
