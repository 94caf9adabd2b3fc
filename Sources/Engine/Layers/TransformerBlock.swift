/// A pre-norm Transformer block (GPT-2, Radford et al. 2019; ViT, Dosovitskiy et al. 2021):
/// x + Attention(LayerNorm(x)), then x + MLP(LayerNorm(x)) with MLP = Linear(d, r·d) → activation →
/// Linear(r·d, d).
///
///     let block = try TransformerBlock("h0", 768, 12, mlpRatio: 4, causal: true, dropout: 0.1, seed: 7)
///     let y = block(x)                     // (batch, T, 768) → (batch, T, 768)
///
/// With `dropout` > 0, residual dropout follows the attention projection and the MLP's last linear
/// layer, as GPT-2's `resid_pdrop`; dropout on the attention probabilities is not modelled.
/// It is built from the general layers (`Residual`, `Sequential`, `LayerNorm`,
/// `MultiHeadSelfAttention`, `Linear`, `Activation`, `Dropout`); the block only wires them.
public final class TransformerBlock: Layer {
    public let name: String
    public let attention: MultiHeadSelfAttention
    /// [Residual(attention), Residual(MLP)].
    public let body: Sequential

    /// - Parameters:
    ///   - mlpRatio: hidden width of the MLP as a multiple of `dimension` (4 in GPT-2 and ViT).
    ///   - dropout: residual dropout rate in [0, 1); 0 adds no dropout layers.
    ///   - seed: seeds the dropout masks (two streams drawn from it).
    /// - Throws: `ShapeError` when `heads` does not divide `dimension` or `mlpRatio` is not positive.
    public init(_ name: String = "block", _ dimension: Int, _ heads: Int, mlpRatio: Int, causal: Bool,
                activation: ActivationKind = .gelu, dropout: Float = 0, seed: UInt64) throws {
        guard mlpRatio > 0 else { throw ShapeError(name, "mlpRatio must be positive, got \(mlpRatio)") }
        self.name = name
        attention = try MultiHeadSelfAttention(name + ".attn", dimension, heads, causal: causal)
        let hidden = mlpRatio * dimension
        var seeds = RandomSource(seed: seed)
        func residualDropout(_ label: String) -> [Layer] {
            dropout > 0 ? [Dropout(name + label, rate: dropout, seed: seeds.next())] : []
        }
        body = Sequential(name, [
            Residual(name + ".attn_residual",
                     [LayerNorm(name + ".ln1", dimension), attention] + residualDropout(".attn.dropout")),
            Residual(name + ".mlp_residual", [
                LayerNorm(name + ".ln2", dimension),
                Linear(name + ".mlp.fc", dimension, hidden),
                Activation(activation, name: name + ".mlp." + activation.rawValue),
                Linear(name + ".mlp.proj", hidden, dimension),
            ] + residualDropout(".mlp.dropout")),
        ])
    }

    public var parameters: [Parameter] { body.parameters }
    public var needsInputGradient: Bool {
        get { body.needsInputGradient }
        set { body.needsInputGradient = newValue }
    }

    public func outputShape(for input: [Int]) throws -> [Int] { try body.outputShape(for: input) }
    public func forward(_ x: Tensor, training: Bool) -> Tensor { body.forward(x, training: training) }
    public func backward(_ dy: Tensor) -> Tensor? { body.backward(dy) }
    public func initialize(using rng: inout RandomSource) { body.initialize(using: &rng) }
}
