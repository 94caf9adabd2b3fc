/// A fully connected layer: y = x·Wᵀ + b over the last dimension.
///
/// W is stored (out, in) as in PyTorch. The trace counts the GEMM as `.matmul` (2·rows·in·out) and
/// the bias as `.elementwise`, as the published FLOP formulas do; leading dimensions are flattened into rows, so a
/// (batch, tokens, in) input works as (batch·tokens, in).
public final class Linear: Layer {
    public let name: String
    public let inFeatures: Int
    public let outFeatures: Int
    public let weight: Parameter          // (out, in)
    public let bias: Parameter?           // (out)
    public var needsInputGradient = true
    /// False when the weight belongs to another layer (a language-model head tied to the token
    /// embedding, as GPT-2 does): gradients still accumulate into it, but it is not listed here.
    public let ownsWeight: Bool
    private var input: Tensor?
    private var out: Tensor?
    private var dx: Tensor?

    public init(_ name: String = "linear", _ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) {
        self.name = name
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        weight = Parameter(name + ".weight", shape: [outFeatures, inFeatures], decays: true)
        self.bias = bias ? Parameter(name + ".bias", shape: [outFeatures], decays: false) : nil
        ownsWeight = true
    }

    /// A bias-free linear map using `weight` (out, in), owned and initialised by another layer.
    public init(_ name: String, tiedTo weight: Parameter) {
        self.name = name
        outFeatures = weight.shape[0]
        inFeatures = weight.shape[1]
        self.weight = weight
        bias = nil
        ownsWeight = false
    }

    public var parameters: [Parameter] { (ownsWeight ? [weight] : []) + (bias.map { [$0] } ?? []) }

    public func outputShape(for input: [Int]) throws -> [Int] {
        guard input.last == inFeatures else {
            throw ShapeError(name, "expects \(inFeatures) input features, got shape \(input)")
        }
        return Array(input.dropLast()) + [outFeatures]
    }

    /// PyTorch's default: weight and bias uniform in ±1/√fan_in.
    public func initialize(using rng: inout RandomSource) {
        let bound = 1 / Float(inFeatures).squareRoot()
        if ownsWeight { fillUniform(weight.value, bound: bound, &rng) }
        if let b = bias { fillUniform(b.value, bound: bound, &rng) }
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let ctx = x.context
        let rows = x.count / inFeatures
        let o = ctx.buffer(out, Array(x.shape.dropLast()) + [outFeatures]); out = o
        input = x
        let mnk = Double(rows) * Double(inFeatures) * Double(outFeatures)
        ctx.record(name, .matmul, flops: 2 * mnk, read: Double(x.count + weight.count), written: Double(o.count))
        if bias != nil {
            ctx.record(name + ".bias", .elementwise, flops: Double(o.count), read: Double(o.count + outFeatures), written: Double(o.count))
        }
        guard !ctx.isMeta else { return o }
        sgemm(transB: true, m: rows, n: outFeatures, k: inFeatures, x.data, lda: inFeatures,
              weight.value.data, ldb: inFeatures, o.data, ldc: outFeatures)
        if let b = bias { addRowVector(b.value.data, to: o.data, rows: rows, columns: outFeatures) }
        return o
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        guard let x = input else { preconditionFailure("\(name): backward before forward") }
        let ctx = dy.context
        let rows = dy.count / outFeatures
        let mnk = Double(rows) * Double(inFeatures) * Double(outFeatures)
        ctx.record(name + ".dW", .matmul, flops: 2 * mnk, read: Double(dy.count + x.count + weight.count), written: Double(weight.count))
        if bias != nil {
            ctx.record(name + ".bias.grad", .elementwise, flops: Double(dy.count), read: Double(dy.count), written: Double(outFeatures))
        }
        var g: Tensor?
        if needsInputGradient {
            g = ctx.buffer(dx, x.shape); dx = g
            ctx.record(name + ".dX", .matmul, flops: 2 * mnk, read: Double(dy.count + weight.count), written: Double(x.count))
        }
        guard !ctx.isMeta else { return g }
        // dW (out, in) += dYᵀ (out, rows) · X (rows, in)
        sgemm(transA: true, m: outFeatures, n: inFeatures, k: rows, dy.data, lda: outFeatures,
              x.data, ldb: inFeatures, beta: 1, weight.grad.data, ldc: inFeatures)
        if let b = bias { accumulateColumnSums(dy.data, rows: rows, columns: outFeatures, into: b.grad.data) }
        if let g {
            // dX (rows, in) = dY (rows, out) · W (out, in)
            sgemm(m: rows, n: inFeatures, k: outFeatures, dy.data, lda: outFeatures,
                  weight.value.data, ldb: inFeatures, g.data, ldc: inFeatures)
        }
        return g
    }
}

/// Fill with uniform values in ±bound.
func fillUniform(_ t: Tensor, bound: Float, _ rng: inout RandomSource) {
    guard !t.context.isMeta else { return }
    let p = t.data
    for i in 0..<t.count { p[i] = (2 * rng.nextFloat() - 1) * bound }
}

/// Fill with normal values of standard deviation `std`.
func fillNormal(_ t: Tensor, std: Float, _ rng: inout RandomSource) {
    guard !t.context.isMeta else { return }
    let p = t.data
    for i in 0..<t.count { p[i] = rng.nextNormal() * std }
}
