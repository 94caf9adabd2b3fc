import Engine

/// Published decoder shapes by name, for `autotune estimate --model NAME` and a meta study's
/// `"model": "NAME"`.
///
///     let llama = try ModelShapes.named("llama3-405b")   // 126 layers, hidden 16384, 8 kv heads
///
/// - Llama 3 8B, 70B, 405B: Dubey et al. 2024, "The Llama 3 Herd of Models", Table 3 (layers, model
///   dimension, FFN dimension, attention heads, key/value heads, vocabulary 128,256); SwiGLU, RMSNorm,
///   rotary positions, untied output layer, no biases; sequence 8,192 as pre-trained (§3.4).
/// - GPT-3 175B: Brown et al. 2020, Table 2.1 (96 layers, d 12288, 96 heads, context 2048), GPT-2's
///   vocabulary of 50,257 and tied embeddings.
/// - Mixtral 8×7B: Jiang et al. 2024, "Mixtral of Experts", Table 1 (32 layers, dim 4096, hidden
///   14336, 32 heads, 8 kv heads, vocabulary 32000, 8 experts, top-2, context 32768); dropless routing.
public enum ModelShapes {
    public static let names = ["llama3-8b", "llama3-70b", "llama3-405b", "gpt3-175b", "mixtral-8x7b"]

    /// The shape called `name` (case-insensitive); nil for any other name.
    public static func named(_ name: String) -> GPTSpec? {
        switch name.lowercased() {
        case "llama3-8b": return llama(layers: 32, hidden: 4096, ffn: 14336, heads: 32)
        case "llama3-70b": return llama(layers: 80, hidden: 8192, ffn: 28672, heads: 64)
        case "llama3-405b": return llama(layers: 126, hidden: 16384, ffn: 53248, heads: 128)
        case "gpt3-175b": return GPTSpec(layers: 96, hidden: 12288, heads: 96, sequenceLength: 2048, vocabulary: 50257)
        case "mixtral-8x7b":
            var s = modern(layers: 32, hidden: 4096, ffn: 14336, heads: 32, kvHeads: 8, sequence: 32768, vocabulary: 32000)
            s.experts = 8; s.topK = 2
            return s
        default: return nil
        }
    }

    private static func llama(layers: Int, hidden: Int, ffn: Int, heads: Int) -> GPTSpec {
        modern(layers: layers, hidden: hidden, ffn: ffn, heads: heads, kvHeads: 8, sequence: 8192, vocabulary: 128_256)
    }

    private static func modern(layers: Int, hidden: Int, ffn: Int, heads: Int, kvHeads: Int, sequence: Int, vocabulary: Int) -> GPTSpec {
        var s = GPTSpec(layers: layers, hidden: hidden, heads: heads, sequenceLength: sequence, vocabulary: vocabulary)
        s.kvHeads = kvHeads; s.ffnHidden = ffn; s.mlp = .swiglu; s.norm = .rmsNorm; s.positions = .rotary
        s.tiedEmbeddings = false; s.bias = false
        return s
    }
}

/// The parameters of a decoder, by component. With h the hidden size, a heads of width d = h/a, g
/// key/value heads (kv = g·d), f the MLP width, V the vocabulary, s the sequence, E experts:
///
///     attention   h·(h + 2·kv) + h·h             (+ h + 2·kv and h of biases)
///     MLP         GELU h·f + f·h (+ f + h);  SwiGLU h·2f + f·h (+ 2f + h)   — per expert with E > 1
///     router      h·E                              (with E > 1; no bias)
///     norms       2 per layer and 1 final: 2h each (LayerNorm), h (RMSNorm)
///     embedding   V·h tokens, s·h learned positions (none with rotary), V·h output layer if untied
///
/// GPT-3 175B (tied, learned positions, biases) comes to 12·l·h² + 13·l·h + (V + s)·h + 2h, the
/// count of Narayanan et al. 2021, §5.1, with its layer norms; Llama 3 8B to 8.03·10⁹.
public struct ModelParameters: Sendable {
    /// One layer outside its experts (norms, attention, the dense MLP or the router), and the part
    /// tensor parallelism splits (attention and MLP weights and the column-parallel biases; not
    /// the row-parallel output biases, the norms or the router).
    public var block = 0, blockSplit = 0
    /// All experts of one layer, and the part tensor parallelism splits; 0 for a dense model.
    public var experts = 0, expertsSplit = 0
    /// The token embedding (split over the vocabulary), learned positions, the final norm, and an
    /// untied output layer (split over the vocabulary; 0 when tied).
    public var tokens = 0, positions = 0, finalNorm = 0, outputLayer = 0
    /// Each module's own parameters (a layer's `block0.…` stand for every layer's), whole and
    /// split by tensor parallelism — what DeepSpeed's estimators walk as `model.modules()`.
    public var modules: [String: (whole: Int, split: Int)] = [:]
    /// Every parameter, and those one token uses (top-k of the experts).
    public var total = 0, active = 0

    public init(_ s: GPTSpec) {
        let h = s.hidden, kv = s.keyValueWidth, f = s.ffnWidth, bias = s.bias
        let norm = s.norm == .layerNorm ? 2 * h : h
        func module(_ name: String, _ whole: Int, _ split: Int) { modules[name] = (whole, split) }
        module("block0.ln1", norm, 0); module("block0.ln2", norm, 0)
        module("block0.attn.qkv", h * (h + 2 * kv) + (bias ? h + 2 * kv : 0), h * (h + 2 * kv) + (bias ? h + 2 * kv : 0))
        module("block0.attn.proj", h * h + (bias ? h : 0), h * h)
        let inner = s.mlp == .swiglu ? 2 * f : f
        let fc = (h * inner + (bias ? inner : 0), h * inner + (bias ? inner : 0)), proj = (f * h + (bias ? h : 0), f * h)
        let expert = fc.0 + proj.0, expertSplit = fc.1 + proj.1
        block = 2 * norm + modules["block0.attn.qkv"]!.whole + modules["block0.attn.proj"]!.whole
        blockSplit = modules["block0.attn.qkv"]!.split + h * h
        if s.isMixtureOfExperts {
            module("block0.moe.router", h * s.experts, 0)
            for e in 0..<s.experts { module("block0.mlp.experts.\(e).fc", fc.0, fc.1); module("block0.mlp.experts.\(e).proj", proj.0, proj.1) }
            block += h * s.experts
            experts = s.experts * expert; expertsSplit = s.experts * expertSplit
        } else {
            module("block0.mlp.fc", fc.0, fc.1); module("block0.mlp.proj", proj.0, proj.1)
            block += expert; blockSplit += expertSplit
        }
        tokens = s.vocabulary * h
        module("embed.tokens", tokens, tokens)
        if s.positions == .learned { positions = s.sequenceLength * h; module("embed.positions", positions, 0) }
        finalNorm = norm
        module("final_ln", norm, 0)
        if !s.tiedEmbeddings { outputLayer = s.vocabulary * h; module("lm_head", outputLayer, outputLayer) }
        let ends = tokens + positions + finalNorm + outputLayer
        total = (block + experts) * s.layers + ends
        active = (block + (s.isMixtureOfExperts ? s.topK * expert : 0)) * s.layers + ends
    }
}
