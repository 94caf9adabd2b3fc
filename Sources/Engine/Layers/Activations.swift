import Foundation

/// Pointwise nonlinearities. Each is a free function on a scalar plus its derivative; the
/// `Activation` layer applies one over a tensor.
public enum ActivationKind: String, Codable, Sendable, CaseIterable {
    case relu, gelu, silu, tanh, sigmoid

    /// FLOPs per element charged to the trace (forward; backward charges twice this).
    var flopsPerElement: Double {
        switch self {
        case .relu: return 1
        case .sigmoid, .tanh: return 4
        case .silu: return 5
        case .gelu: return 8
        }
    }
}

@inline(__always) public func relu(_ x: Float) -> Float { max(x, 0) }
@inline(__always) public func sigmoid(_ x: Float) -> Float { 1 / (1 + Foundation.exp(-x)) }
@inline(__always) public func silu(_ x: Float) -> Float { x * sigmoid(x) }
/// Exact GELU, x·Φ(x) (Hendrycks & Gimpel 2016), as PyTorch's default.
@inline(__always) public func gelu(_ x: Float) -> Float { 0.5 * x * (1 + Foundation.erf(x * 0.70710678)) }

@inline(__always) func geluDerivative(_ x: Float) -> Float {
    let cdf = 0.5 * (1 + Foundation.erf(x * 0.70710678))
    let pdf = Foundation.exp(-0.5 * x * x) * 0.39894228
    return cdf + x * pdf
}

/// A pointwise activation layer.
public final class Activation: Layer {
    public let name: String
    public let kind: ActivationKind
    public var needsInputGradient = true
    private var input: Tensor?
    private var out: Tensor?
    private var dx: Tensor?

    public init(_ kind: ActivationKind, name: String? = nil) {
        self.kind = kind
        self.name = name ?? kind.rawValue
    }

    public func outputShape(for input: [Int]) throws -> [Int] { input }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let ctx = x.context
        let o = ctx.buffer(out, x.shape); out = o
        input = x
        let n = x.count
        recordForward(x)
        guard !ctx.isMeta else { return o }
        let src = x.data, dst = o.data
        switch kind {
        case .relu: parallelRanges(n) { r in for i in r { dst[i] = max(src[i], 0) } }
        case .gelu: parallelRanges(n, minimumPerThread: 4096) { r in for i in r { dst[i] = gelu(src[i]) } }
        case .silu: parallelRanges(n, minimumPerThread: 4096) { r in for i in r { dst[i] = silu(src[i]) } }
        case .tanh: parallelRanges(n, minimumPerThread: 4096) { r in for i in r { dst[i] = Foundation.tanh(src[i]) } }
        case .sigmoid: parallelRanges(n, minimumPerThread: 4096) { r in for i in r { dst[i] = sigmoid(src[i]) } }
        }
        return o
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        guard needsInputGradient else { return nil }
        guard let x = input, let y = out else { preconditionFailure("\(name): backward before forward") }
        let ctx = dy.context
        let g = ctx.buffer(dx, dy.shape); dx = g
        let n = dy.count
        recordBackward(dy)
        guard !ctx.isMeta else { return g }
        let gy = dy.data, gx = g.data, xs = x.data, ys = y.data
        switch kind {
        case .relu:
            // Both loads unconditional so the select vectorises.
            parallelRanges(n) { r in for i in r { let g = gy[i]; gx[i] = xs[i] > 0 ? g : 0 } }
        case .gelu: parallelRanges(n, minimumPerThread: 4096) { r in for i in r { gx[i] = gy[i] * geluDerivative(xs[i]) } }
        case .silu:
            parallelRanges(n, minimumPerThread: 4096) { r in
                for i in r { let s = sigmoid(xs[i]); gx[i] = gy[i] * s * (1 + xs[i] * (1 - s)) }
            }
        case .tanh: parallelRanges(n) { r in for i in r { gx[i] = gy[i] * (1 - ys[i] * ys[i]) } }
        case .sigmoid: parallelRanges(n) { r in for i in r { gx[i] = gy[i] * ys[i] * (1 - ys[i]) } }
        }
        return g
    }

    /// The trace event of this activation's forward over `x`: also recorded when another layer
    /// applies it in its own pass (see `Sequential`'s fused pairs), so a trace counts the same work.
    func recordForward(_ x: Tensor) {
        let n = Double(x.count)
        x.context.record(name, .elementwise, flops: kind.flopsPerElement * n, read: n, written: n)
    }

    /// The trace event of this activation's backward for the gradient `dy`.
    func recordBackward(_ dy: Tensor) {
        let n = Double(dy.count)
        dy.context.record(name + ".grad", .elementwise, flops: 2 * kind.flopsPerElement * n, read: 2 * n, written: n)
    }
}
