/// A pre-norm Transformer block (GPT-2, Radford et al. 2019; ViT, Dosovitskiy et al. 2021):
/// x + Attention(LayerNorm(x)), then x + MLP(LayerNorm(x)) with MLP = Linear(d, r·d) → activation →
/// Linear(r·d, d).
///
///     let block = try TransformerBlock("h0", 768, 12, mlpRatio: 4, causal: true)
///     let y = block(x)                     // (batch, T, 768) → (batch, T, 768)
///
/// It is built from the general layers (`Residual`, `Sequential`, `LayerNorm`,
/// `MultiHeadSelfAttention`, `Linear`, `Activation`); the block only wires them and forwards.
public final class TransformerBlock: Layer {
    public let name: String
    public let attention: MultiHeadSelfAttention
    /// [Residual(attention), Residual(MLP)].
    public let body: Sequential

    /// Throws `ShapeError` when `heads` does not divide `dimension` or `mlpRatio` is not positive.
    public init(_ name: String = "block", _ dimension: Int, _ heads: Int, mlpRatio: Int, causal: Bool,
                activation: ActivationKind = .gelu) throws {
        guard mlpRatio > 0 else { throw ShapeError(name, "mlpRatio must be positive, got \(mlpRatio)") }
        self.name = name
        attention = try MultiHeadSelfAttention(name + ".attn", dimension, heads, causal: causal)
        let hidden = mlpRatio * dimension
        body = Sequential(name, [
            Residual(name + ".attn_residual", [LayerNorm(name + ".ln1", dimension), attention]),
            Residual(name + ".mlp_residual", [
                LayerNorm(name + ".ln2", dimension),
                Linear(name + ".mlp.fc", dimension, hidden),
                Activation(activation, name: name + ".mlp." + activation.rawValue),
                Linear(name + ".mlp.proj", hidden, dimension),
            ]),
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
