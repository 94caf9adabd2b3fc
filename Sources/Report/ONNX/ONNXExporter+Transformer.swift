import Engine

/// Vision Transformer and GPT layers as ONNX nodes: patch and token embeddings, multi-head
/// self-attention from MatMul, Softmax, Reshape and Transpose, and the tied language-model head.
///
/// Attention follows the engine's `MultiHeadSelfAttention`: qkv = x·Wᵀ + b, sliced into Q, K and V
/// (each (N, T, e), head h owning columns h·d_h..<(h+1)·d_h), reshaped to (N, heads, T, d_h);
/// S = Q·Kᵀ · (1/√d_h); a causal model adds −∞ above the diagonal, which the Softmax over the last
/// axis turns into the engine's zero probabilities; context = P·V back to (N, T, e); then the output
/// projection.
extension NetworkExport {
    /// (N, H, W, C) images → (N, tokens, d): patches in (row, column) order, each read (row in
    /// patch, column in patch, channel) as the engine gathers them, times Wᵀ, plus bias and positions.
    mutating func patchEmbedding(_ p: PatchEmbedding, _ x: Value) -> Value {
        let image = transpose(x, to: .nhwc, at: p.name)
        let (down, across, k, d) = (p.height / p.patch, p.width / p.patch, p.patch * p.patch * p.channels, p.dimension)
        let grid = builder.node("Reshape", [image.name, builder.int64s(p.name + ".grid_shape", [-1, down, p.patch, across, p.patch, p.channels])],
                                name: p.name)
        let patches = builder.node("Transpose", [grid], name: p.name, attributes: [.ints("perm", [0, 1, 3, 2, 4, 5])])
        let rows = builder.node("Reshape", [patches, builder.int64s(p.name + ".patch_shape", [-1, p.tokens, k])], name: p.name)
        let product = builder.node("MatMul", [rows, builder.constant(.float(p.weight.name + "_t", [k, d], transposed(p.weight.value.array, rows: d, columns: k)))],
                                   name: p.name)
        let biased = builder.node("Add", [product, builder.constant(.float(p.bias.name, [d], p.bias.value.array))], name: p.name)
        return Value(name: builder.node("Add", [biased, builder.constant(.float(p.positions.name, [p.tokens, d], p.positions.value.array))],
                                        name: p.name + ".positions"), layout: .tokens)
    }

    /// (N, T) float token ids → (N, T, d): Gather from the token table plus the first T positions.
    mutating func embedding(_ e: Embedding, _ x: Value) throws -> Value {
        guard x.layout == .ids else { throw ReportError("onnx export: '\(e.name)' takes token ids, got \(x.layout) values") }
        let ids = builder.node("Cast", [x.name], name: e.name + ".ids", attributes: [.int("to", 7)])
        let table = builder.constant(.float(e.tokens.name, [e.vocabulary, e.dimension], e.tokens.value.array))
        let vectors = builder.node("Gather", [table, ids], name: e.name, attributes: [.int("axis", 0)])
        let steps = try inputSteps(at: e.name)
        let first = Array(e.positions.value.array.prefix(steps * e.dimension))
        let positions = builder.constant(.float(e.positions.name, [steps, e.dimension], first))      // positions[:T]
        return Value(name: builder.node("Add", [vectors, positions], name: e.name), layout: .tokens)
    }

    mutating func attention(_ a: MultiHeadSelfAttention, _ x: Value) throws -> Value {
        guard x.layout == .tokens else { throw ReportError("onnx export: '\(a.name)' takes tokens, got \(x.layout) values") }
        let (d, e, heads, dh) = (a.dimension, a.innerDimension, a.heads, a.headDimension)
        let n = a.name
        let weight = builder.constant(.float(a.qkvWeight.name + "_t", [d, 3 * e], transposed(a.qkvWeight.value.array, rows: 3 * e, columns: d)))
        let qkv = builder.node("Add", [builder.node("MatMul", [x.name, weight], name: n + ".qkv"),
                                       builder.constant(.float(a.qkvBias.name, [3 * e], a.qkvBias.value.array))], name: n + ".qkv")
        let axis = builder.int64s(n + ".last_axis", [-1]), split = builder.int64s(n + ".head_shape", [0, 0, heads, dh])
        func head(_ part: Int, _ label: String) -> String {
            let slice = builder.node("Slice", [qkv, builder.int64s(n + "." + label + "_start", [part * e]),
                                               builder.int64s(n + "." + label + "_end", [(part + 1) * e]), axis], name: n + "." + label)
            let heads = builder.node("Reshape", [slice, split], name: n + "." + label)
            return builder.node("Transpose", [heads], name: n + "." + label, attributes: [.ints("perm", [0, 2, 1, 3])])  // (N, h, T, dh)
        }
        let (q, k, v) = (head(0, "q"), head(1, "k"), head(2, "v"))
        let keys = builder.node("Transpose", [k], name: n + ".k", attributes: [.ints("perm", [0, 1, 3, 2])])
        var scores = builder.node("Mul", [builder.node("MatMul", [q, keys], name: n + ".scores"),
                                          builder.scalar(n + ".scale", 1 / Float(dh).squareRoot())], name: n + ".scores")
        if a.causal {
            let steps = try inputSteps(at: n)
            let mask = (0..<steps).flatMap { i in (0..<steps).map { j in j > i ? -Float.infinity : 0 } }
            scores = builder.node("Add", [scores, builder.constant(.float(n + ".causal_mask", [steps, steps], mask))], name: n + ".mask")
        }
        let probabilities = builder.node("Softmax", [scores], name: n, attributes: [.int("axis", -1)])
        let context = builder.node("MatMul", [probabilities, v], name: n + ".context")
        let merged = builder.node("Reshape", [builder.node("Transpose", [context], name: n + ".context", attributes: [.ints("perm", [0, 2, 1, 3])]),
                                              builder.int64s(n + ".merged_shape", [0, 0, e])], name: n + ".context")
        let output = builder.constant(.float(a.outputWeight.name + "_t", [e, d], transposed(a.outputWeight.value.array, rows: d, columns: e)))
        var y = builder.node("MatMul", [merged, output], name: n + ".proj")
        if let b = a.outputBias { y = builder.node("Add", [y, builder.constant(.float(b.name, [d], b.value.array))], name: n + ".proj") }
        return Value(name: y, layout: .tokens)
    }

    /// T of the graph input (N, T): the position table and a causal mask are constants of that size.
    func inputSteps(at name: String) throws -> Int {
        guard let input = builder.graph.inputs.first, input.shape.count == 2, case .value(let steps) = input.shape[1] else {
            throw ReportError("onnx export: '\(name)' needs (N, T) token ids as the model's input")
        }
        return steps
    }
}
