/// The MLP of a transformer layer.
public enum MLPKind: String, Codable, Sendable, CaseIterable {
    /// Linear(h, f) → GELU → Linear(f, h) (GPT-2, GPT-3).
    case gelu
    /// SwiGLU (Shazeer 2020, "GLU Variants Improve Transformer", eq. 6): (SiLU(x·W) ⊙ x·V)·W₂, three
    /// matrices — W and V (h, f), W₂ (f, h) — as Llama and Mixtral train.
    case swiglu
}

/// The normalisation before each sub-layer and at the end.
public enum TransformerNorm: String, Codable, Sendable, CaseIterable {
    /// LayerNorm (Ba et al. 2016): a scale and a shift vector per norm.
    case layerNorm = "layernorm"
    /// RMSNorm (Zhang & Sennrich 2019): x / rms(x) · g, one scale vector per norm.
    case rmsNorm = "rmsnorm"
}

/// How token positions enter the model.
public enum PositionEncoding: String, Codable, Sendable, CaseIterable {
    /// A learned table of `sequence_length` × `hidden` added to the token embedding (GPT-2).
    case learned
    /// Rotary embeddings (Su et al. 2021, "RoFormer", §3.4): Q and K rotated by position in every
    /// layer; no parameters.
    case rotary
}

extension GPTSpec {
    /// Whether this is the GPT-2 shape the engine builds and trains (every shape key at its default).
    public var isGPT2Shape: Bool {
        (kvHeads ?? heads) == heads && ffnHidden == nil && mlp == .gelu && norm == .layerNorm && positions == .learned
            && tiedEmbeddings && bias && experts == 1 && capacityFactor == nil
    }

    /// Width of one attention head, hidden / heads.
    public var headDimension: Int { hidden / heads }
    /// Key/value heads (the query heads unless grouped-query attention is given).
    public var keyValueHeads: Int { kvHeads ?? heads }
    /// Width of K (and of V): key/value heads × head dimension.
    public var keyValueWidth: Int { keyValueHeads * headDimension }
    /// The MLP's inner width f (each expert's, in a mixture of experts).
    public var ffnWidth: Int { ffnHidden ?? mlpRatio * hidden }
    /// Whether the MLP is a mixture of experts.
    public var isMixtureOfExperts: Bool { experts > 1 }

    /// The shape keys `validate` checks beyond the GPT-2 ones: kv heads dividing the heads, a
    /// positive ffn width, 1 ≤ top-k ≤ experts, a positive capacity factor.
    func validateShape(_ fail: (String, String) -> ConfigError) throws {
        if let g = kvHeads {
            guard g >= 1 else { throw fail("kv_heads", "must be ≥ 1, got \(g)") }
            guard heads % g == 0 else { throw fail("kv_heads", "\(g) does not divide the \(heads) attention heads") }
        }
        if let f = ffnHidden, f < 1 { throw fail("ffn_hidden", "must be ≥ 1, got \(f)") }
        guard experts >= 1 else { throw fail("experts", "must be ≥ 1, got \(experts)") }
        guard (1...experts).contains(topK) else { throw fail("top_k", "must be between 1 and the \(experts) experts, got \(topK)") }
        if let c = capacityFactor, !(c > 0 && c.isFinite) { throw fail("capacity_factor", "must be positive, got \(c)") }
        if capacityFactor != nil, experts == 1 { throw fail("capacity_factor", "needs experts (experts > 1)") }
    }

    /// The shape keys that differ from GPT-2, for messages ("kv_heads, mlp").
    public var nonGPT2Keys: [String] {
        var keys: [String] = []
        if (kvHeads ?? heads) != heads { keys.append("kv_heads") }
        if ffnHidden != nil { keys.append("ffn_hidden") }
        if mlp != .gelu { keys.append("mlp") }
        if norm != .layerNorm { keys.append("norm") }
        if positions != .learned { keys.append("positions") }
        if !tiedEmbeddings { keys.append("tied_embeddings") }
        if !bias { keys.append("bias") }
        if experts != 1 { keys.append("experts") }
        if capacityFactor != nil { keys.append("capacity_factor") }
        return keys
    }
}
