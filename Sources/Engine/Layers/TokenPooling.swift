/// Mean over tokens: (batch, T, d) → (batch, d), the pooled representation a Vision Transformer
/// classifier head reads when it has no class token (as in Beyer et al. 2022, "Better plain ViT
/// baselines").
///
///     let pooled = TokenPooling()(tokens)  // (batch, 64, 192) → (batch, 192)
public final class TokenPooling: Layer {
    public let name: String
    public var needsInputGradient = true
    private var inputShape: [Int] = []
    private var out: Tensor?
    private var dx: Tensor?

    public init(_ name: String = "token_pooling") { self.name = name }

    public func outputShape(for input: [Int]) throws -> [Int] {
        guard input.count == 2, input[0] > 0 else {
            throw ShapeError(name, "expects (T, d) per sample with T ≥ 1, got \(input)")
        }
        return [input[1]]
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let ctx = x.context
        precondition(x.shape.count == 3, "\(name): expects (batch, T, d), got \(x.shape)")
        let batch = x.shape[0], steps = x.shape[1], d = x.shape[2]
        let o = ctx.buffer(out, [batch, d]); out = o
        inputShape = x.shape
        ctx.record(name, .pooling, flops: Double(x.count + o.count), read: Double(x.count), written: Double(o.count))
        guard !ctx.isMeta else { return o }
        let src = x.data, dst = o.data
        let inv = 1 / Float(steps)
        for b in 0..<batch {
            let y = dst + b * d
            y.update(repeating: 0, count: d)
            for t in 0..<steps {
                let row = src + (b * steps + t) * d
                for c in 0..<d { y[c] += row[c] }
            }
            for c in 0..<d { y[c] *= inv }
        }
        return o
    }

    /// dx[b, t] = dy[b] / T for every token.
    public func backward(_ dy: Tensor) -> Tensor? {
        guard needsInputGradient else { return nil }
        guard inputShape.count == 3 else { preconditionFailure("\(name): backward before forward") }
        let ctx = dy.context
        let g = ctx.buffer(dx, inputShape); dx = g
        ctx.record(name + ".grad", .pooling, flops: Double(g.count), read: Double(dy.count), written: Double(g.count))
        guard !ctx.isMeta else { return g }
        let batch = inputShape[0], steps = inputShape[1], d = inputShape[2]
        let gy = dy.data, gx = g.data
        let inv = 1 / Float(steps)
        for b in 0..<batch {
            let src = gy + b * d
            for t in 0..<steps {
                let row = gx + (b * steps + t) * d
                for c in 0..<d { row[c] = src[c] * inv }
            }
        }
        return g
    }
}
