/// Token plus learned position embedding, the input layer of a GPT (Radford et al. 2019):
/// y[b, t] = tokens[id(b, t)] + positions[t].
///
///     let embed = Embedding("wte", 50_257, 768, 1024)   // vocabulary, dimension, sequence length
///     let h = embed(ids)                   // ids: (batch, T) token ids held as Float → (batch, T, 768)
///
/// Both tables start normal with std 0.02 (GPT-2). The token table decays (it is a weight matrix and,
/// when a language-model head ties to `tokens`, it is also the output projection, which decays);
/// the position table does not (an additive per-position offset, treated like a bias as minGPT does).
/// Token ids are not differentiable: backward scatters into both tables and returns nil.
public final class Embedding: Layer {
    public let name: String
    public let vocabulary: Int
    public let dimension: Int
    public let sequenceLength: Int
    /// (vocabulary, dimension); a tied language-model head reuses this parameter.
    public let tokens: Parameter
    /// (sequenceLength, dimension).
    public let positions: Parameter
    /// Ignored: token ids have no gradient.
    public var needsInputGradient = false
    private var input: Tensor?
    private var out: Tensor?

    public init(_ name: String = "embedding", _ vocabulary: Int, _ dimension: Int, _ sequenceLength: Int) {
        precondition(vocabulary > 0 && dimension > 0 && sequenceLength > 0,
                     "\(name): vocabulary \(vocabulary), dimension \(dimension) and sequence length \(sequenceLength) must be positive")
        self.name = name
        self.vocabulary = vocabulary
        self.dimension = dimension
        self.sequenceLength = sequenceLength
        tokens = Parameter(name + ".tokens", shape: [vocabulary, dimension], decays: true)
        positions = Parameter(name + ".positions", shape: [sequenceLength, dimension], decays: false)
    }

    public var parameters: [Parameter] { [tokens, positions] }

    public func outputShape(for input: [Int]) throws -> [Int] {
        guard input.count == 1, let t = input.first, t >= 1, t <= sequenceLength else {
            throw ShapeError(name, "expects token ids of shape [T] with 1 ≤ T ≤ \(sequenceLength), got \(input)")
        }
        return [t, dimension]
    }

    /// Normal with std 0.02 for both tables (GPT-2).
    public func initialize(using rng: inout RandomSource) {
        fillNormal(tokens.value, std: 0.02, &rng)
        fillNormal(positions.value, std: 0.02, &rng)
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let ctx = x.context
        precondition(x.shape.count == 2 && x.shape[1] <= sequenceLength,
                     "\(name): expects ids (batch, T ≤ \(sequenceLength)), got \(x.shape)")
        let batch = x.shape[0], steps = x.shape[1], d = dimension
        let o = ctx.buffer(out, [batch, steps, d]); out = o
        input = x
        ctx.record(name, .embedding, flops: Double(o.count), read: Double(x.count + 2 * o.count), written: Double(o.count))
        guard !ctx.isMeta else { return o }
        let ids = x.data, dst = o.data, table = tokens.value.data, pos = positions.value.data
        for b in 0..<batch {
            for t in 0..<steps {
                let id = tokenID(ids[b * steps + t], at: b, t)
                let row = dst + (b * steps + t) * d, e = table + id * d, p = pos + t * d
                for c in 0..<d { row[c] = e[c] + p[c] }
            }
        }
        return o
    }

    /// Scatter-add dy into the rows of both tables that the forward read.
    public func backward(_ dy: Tensor) -> Tensor? {
        guard let x = input else { preconditionFailure("\(name): backward before forward") }
        let ctx = dy.context
        ctx.record(name + ".grad", .embedding, flops: 2 * Double(dy.count),
                   read: Double(x.count + 3 * dy.count), written: Double(2 * dy.count))
        guard !ctx.isMeta else { return nil }
        let batch = x.shape[0], steps = x.shape[1], d = dimension
        let ids = x.data, gy = dy.data, dTable = tokens.grad.data, dPos = positions.grad.data
        for b in 0..<batch {
            for t in 0..<steps {
                let id = tokenID(ids[b * steps + t], at: b, t)
                let g = gy + (b * steps + t) * d, e = dTable + id * d, p = dPos + t * d
                for c in 0..<d { e[c] += g[c]; p[c] += g[c] }
            }
        }
        return nil
    }

    @inline(__always)
    private func tokenID(_ value: Float, at b: Int, _ t: Int) -> Int {
        let id = Int(exactly: value) ?? -1
        precondition(id >= 0 && id < vocabulary,
                     "\(name): token id \(value) at (batch \(b), position \(t)) is outside 0..<\(vocabulary)")
        return id
    }
}
