/// A differentiable building block: a forward over a batch and a backward that accumulates
/// parameter gradients and returns the gradient with respect to its input.
///
/// Shapes carry the batch as their first dimension; `outputShape(for:)` works per sample.
/// A layer owns its output and gradient buffers and reuses them from step to step.
public protocol Layer: AnyObject {
    var name: String { get }
    /// Trainable parameters, listed explicitly (no reflection).
    var parameters: [Parameter] { get }
    /// Per-sample output shape for a per-sample input shape; throws when the input does not fit.
    func outputShape(for input: [Int]) throws -> [Int]
    /// Forward over a batch. `training` switches dropout and batch statistics.
    func forward(_ x: Tensor, training: Bool) -> Tensor
    /// Backward for the last forward: accumulates parameter gradients (+=) and returns ∂L/∂x,
    /// or nil when `needsInputGradient` is false.
    func backward(_ dy: Tensor) -> Tensor?
    /// Set initial parameter values.
    func initialize(using rng: inout RandomSource)
    /// False for the first layer of a network, whose input gradient nobody reads.
    var needsInputGradient: Bool { get set }
}

extension Layer {
    public var parameters: [Parameter] { [] }
    public func initialize(using rng: inout RandomSource) {}
    public func callAsFunction(_ x: Tensor, training: Bool = false) -> Tensor { forward(x, training: training) }
}

/// Why a layer cannot take the input it was given.
public struct ShapeError: Error, CustomStringConvertible, Equatable {
    public let layer: String
    public let reason: String
    public init(_ layer: String, _ reason: String) { self.layer = layer; self.reason = reason }
    public var description: String { "\(layer): \(reason)" }
}

/// Layers applied in order.
public final class Sequential: Layer {
    public let name: String
    public let layers: [Layer]
    /// Setting it tells every layer whether anyone reads its input gradient: a layer needs one
    /// when the sequence does or when a layer before it has parameters. So a network that starts
    /// with a reshape (Flatten) still skips its first Linear's dX.
    public var needsInputGradient: Bool = true {
        didSet {
            var needed = needsInputGradient
            for layer in layers {
                layer.needsInputGradient = needed
                needed = needed || !layer.parameters.isEmpty
            }
        }
    }

    /// Whether the pair starting at each layer ran fused in the last forward.
    private var fusedLast: [Bool] = []

    public init(_ name: String = "sequential", _ layers: [Layer]) {
        self.name = name
        self.layers = layers
    }

    public var parameters: [Parameter] { layers.flatMap(\.parameters) }

    public func outputShape(for input: [Int]) throws -> [Int] {
        try layers.reduce(input) { try $1.outputShape(for: $0) }
    }

    /// Runs the layers in order; a pair `fusedPair(at:)` names runs as one pass, unless an
    /// observer watches the boundary between them (it must see the first layer's output).
    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let observer = x.context.isMeta ? nil : x.context.boundaryObserver
        if fusedLast.count != layers.count { fusedLast = Array(repeating: false, count: layers.count) }
        var y = x, i = 0
        while i < layers.count {
            if observer == nil, let pair = fusedPair(at: i) {
                y = pair.forward(y, training: training)
                fusedLast[i] = true
                i += 2
                continue
            }
            fusedLast[i] = false
            y = layers[i].forward(y, training: training)
            observer?.forwardOutput(y, of: layers[i], training: training)
            i += 1
        }
        return y
    }

    /// Backward through the layers in reverse, through the pairs the last forward fused as one pass.
    public func backward(_ dy: Tensor) -> Tensor? {
        let observer = dy.context.isMeta ? nil : dy.context.boundaryObserver
        var g: Tensor? = dy
        var i = layers.count - 1
        while i >= 0 {
            guard let grad = g else { return nil }
            if i >= 1, fusedLast.count == layers.count, fusedLast[i - 1], let pair = fusedPair(at: i - 1) {
                g = pair.backward(grad)
                i -= 2
                continue
            }
            observer?.backwardGradient(grad, of: layers[i])
            g = layers[i].backward(grad)
            i -= 1
        }
        return g
    }

    public func initialize(using rng: inout RandomSource) {
        for layer in layers { layer.initialize(using: &rng) }
    }
}

/// y = x + body(x): a residual connection around a sequence of layers.
public final class Residual: Layer {
    public let name: String
    public let body: Sequential
    public var needsInputGradient = true {
        didSet { body.needsInputGradient = needsInputGradient }
    }
    private var out: Tensor?
    private var dx: Tensor?

    public init(_ name: String = "residual", _ layers: [Layer]) {
        self.name = name
        self.body = Sequential(name + ".body", layers)
    }

    public var parameters: [Parameter] { body.parameters }

    public func outputShape(for input: [Int]) throws -> [Int] {
        let o = try body.outputShape(for: input)
        guard o == input else { throw ShapeError(name, "residual body maps \(input) to \(o); shapes must match") }
        return o
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let y = body.forward(x, training: training)
        let ctx = x.context
        let o = ctx.buffer(out, x.shape); out = o
        ctx.record(name + ".add", .elementwise, flops: Double(x.count), read: 2 * Double(x.count), written: Double(x.count))
        if !ctx.isMeta { add(x.data, y.data, into: o.data, count: x.count) }
        return o
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        let bodyGradient = body.backward(dy)
        guard needsInputGradient, let gBody = bodyGradient else { return nil }
        let ctx = dy.context
        let g = ctx.buffer(dx, dy.shape); dx = g
        ctx.record(name + ".add_grad", .elementwise, flops: Double(dy.count), read: 2 * Double(dy.count), written: Double(dy.count))
        if !ctx.isMeta { add(dy.data, gBody.data, into: g.data, count: dy.count) }
        return g
    }

    public func initialize(using rng: inout RandomSource) { body.initialize(using: &rng) }
}

@inline(__always)
func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>, count: Int) {
    parallelRanges(count) { r in
        for i in r { c[i] = a[i] + b[i] }
    }
}
