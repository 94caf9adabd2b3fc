/// Inverted dropout (Srivastava et al. 2014): in training each element is zeroed with probability
/// `rate` and the survivors are scaled by 1/(1 − rate), so evaluation is the identity.
///
/// The layer draws its masks from its own seeded stream, so a run replays exactly.
///
///     let drop = Dropout("head0.dropout", rate: 0.5, seed: 17)
///     let y = drop(x, training: true)
public final class Dropout: Layer {
    public let name: String
    public let rate: Float
    public var needsInputGradient = true
    private var rng: RandomSource
    private var passedThrough = true      // the last forward was the identity
    private var mask: Tensor?             // 0 or 1/(1 − rate), the shape of the input
    private var out: Tensor?
    private var dx: Tensor?

    /// - Parameters:
    ///   - rate: probability of zeroing an element, in [0, 1).
    ///   - seed: seed of the layer's mask stream.
    public init(_ name: String = "dropout", rate: Float, seed: UInt64) {
        precondition(rate >= 0 && rate < 1, "\(name): dropout rate must be in [0, 1), got \(rate)")
        self.name = name
        self.rate = rate
        rng = RandomSource(seed: seed)
    }

    public func outputShape(for input: [Int]) throws -> [Int] { input }

    /// In evaluation, or with rate 0, the input itself is returned (no copy, nothing recorded).
    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        passedThrough = !training || rate == 0
        guard !passedThrough else { return x }
        let ctx = x.context
        let o = ctx.buffer(out, x.shape); out = o
        let m = ctx.buffer(mask, x.shape); mask = m
        let n = x.count
        ctx.record(name, .elementwise, flops: Double(n), read: Double(n), written: Double(2 * n))
        guard !ctx.isMeta else { return o }
        let keep = 1 / (1 - rate), ms = m.data, xs = x.data, ys = o.data
        // Drawn serially so the mask does not depend on the thread count; the 0/1 is an integer
        // (branch-free: a branch on a random bit mispredicts half the time).
        var stream = rng
        for i in 0..<n { ms[i] = keep * Float(stream.nextFloat() < rate ? 0 : 1) }
        rng = stream
        parallelRanges(n) { r in for i in r { ys[i] = xs[i] * ms[i] } }
        return o
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        guard needsInputGradient else { return nil }
        guard !passedThrough else { return dy }
        guard let m = mask else { preconditionFailure("\(name): backward before forward") }
        let ctx = dy.context
        let g = ctx.buffer(dx, dy.shape); dx = g
        let n = dy.count
        ctx.record(name + ".grad", .elementwise, flops: Double(n), read: Double(2 * n), written: Double(n))
        guard !ctx.isMeta else { return g }
        let gys = dy.data, gxs = g.data, ms = m.data
        parallelRanges(n) { r in for i in r { gxs[i] = gys[i] * ms[i] } }
        return g
    }
}
