import Engine

/// Megatron-LM's tensor parallelism of a transformer block (Shoeybi et al. 2019, §3): rank t of
/// a group of T keeps heads t·a/T ..< (t + 1)·a/T of the attention and columns t·H/T ..< (t + 1)·H/T
/// of the MLP's hidden layer.
///
///     x ─ LN ─ f ─ attention over the rank's heads (QKV column-split, W_o row-split) ─ g ─ + x
///     x ─ LN ─ f ─ fc column-split ─ activation ─ proj row-split ─ g ─ + x
///
/// f is the identity forward and an all-reduce of the input gradient backward; g all-reduces the
/// partial outputs forward and is the identity backward. So each block runs two all-reduces of
/// the (b, s, h) activations forward and two backward. The row-split layers' biases are added by
/// rank 0 only (after the sum, every rank sees the same output). Layer norms stay whole on every
/// rank and receive bit-identical gradients, since the all-reduce gives every rank the same sums.
enum TensorParallel {
    /// Rank `rank.index`'s shard of `block`, with where each of its parameters sits in the block's.
    /// The shard's parameters are bound to a store of their own holding those slices of the
    /// block's current values.
    /// - Throws: `PlanError` when the group does not divide the heads or the MLP's width, or the
    ///   block is not the engine's pre-norm layout.
    static func shard(_ block: TransformerBlock, rank: Rank) throws -> (layer: Layer, shards: [ParameterShard]) {
        let t = rank.index, size = rank.size
        guard block.body.layers.count == 2,
              let attentionResidual = block.body.layers[0] as? Residual,
              let mlpResidual = block.body.layers[1] as? Residual,
              attentionResidual.body.layers.count == 2, mlpResidual.body.layers.count == 4,
              let ln1 = attentionResidual.body.layers[0] as? LayerNorm,
              let ln2 = mlpResidual.body.layers[0] as? LayerNorm,
              let fc = mlpResidual.body.layers[1] as? Linear,
              let proj = mlpResidual.body.layers[3] as? Linear else {
            throw PlanError("tp", "\(block.name) is not a pre-norm attention + MLP block without dropout")
        }
        let activation = mlpResidual.body.layers[2]
        let full = block.attention, d = full.dimension, dh = full.headDimension, hidden = fc.outFeatures
        guard full.heads % size == 0 else { throw PlanError("tp", "\(size) does not divide the \(full.heads) heads of \(block.name)") }
        guard hidden % size == 0 else { throw PlanError("tp", "\(size) does not divide the MLP width \(hidden) of \(block.name)") }
        let heads = full.heads / size, e = heads * dh, width = hidden / size

        let attention = try MultiHeadSelfAttention(full.name, d, heads, causal: full.causal,
                                                   headDimension: dh, projectionBias: t == 0)
        let fcShard = Linear(fc.name, d, width)
        let projShard = Linear(proj.name, width, d, bias: t == 0)

        // Q, K and V rows of this rank's heads; the same slice of their biases.
        let qkvRows = (0 ..< 3).map { part in part * d + t * e ..< part * d + (t + 1) * e }
        var shards = [
            ParameterShard(attention.qkvWeight, of: full.qkvWeight, segments: qkvRows.map { $0.lowerBound * d ..< $0.upperBound * d }),
            ParameterShard(attention.qkvBias, of: full.qkvBias, segments: qkvRows),
            ParameterShard(attention.outputWeight, of: full.outputWeight, segments: columns(t * e ..< (t + 1) * e, rows: d, width: d)),
            ParameterShard(fcShard.weight, of: fc.weight, segments: [t * width * d ..< (t + 1) * width * d]),
            ParameterShard(projShard.weight, of: proj.weight, segments: columns(t * width ..< (t + 1) * width, rows: d, width: hidden)),
        ]
        if let b = fc.bias, let s = fcShard.bias { shards.append(ParameterShard(s, of: b, segments: [t * width ..< (t + 1) * width])) }
        for (mine, whole) in [(attention.outputBias, full.outputBias), (projShard.bias, proj.bias)] {
            if let mine, let whole { shards.append(.replica(mine, of: whole)) }
        }
        shards += (ln1.parameters + ln2.parameters).map { .replica($0, of: $0) }

        let sliced = shards.filter { $0.parameter !== $0.full }
        let context = rank.context
        _ = ParameterStore(sliced.map(\.parameter), context: context)
        for s in sliced { s.copySlice(from: s.full.value.data) }

        let layer = Sequential(block.name, [
            Residual(attentionResidual.name, [ln1, CopyToTensorParallel(block.name + ".attn.f", rank), attention,
                                              ReduceFromTensorParallel(block.name + ".attn.g", rank)]),
            Residual(mlpResidual.name, [ln2, CopyToTensorParallel(block.name + ".mlp.f", rank), fcShard, activation, projShard,
                                        ReduceFromTensorParallel(block.name + ".mlp.g", rank)]),
        ])
        return (layer, shards)
    }

    /// Element ranges of columns `columns` of a row-major (rows, width) matrix, row by row.
    static func columns(_ columns: Range<Int>, rows: Int, width: Int) -> [Range<Int>] {
        (0 ..< rows).map { r in r * width + columns.lowerBound ..< r * width + columns.upperBound }
    }
}

/// Where one rank's parameter sits in the whole model's: the element ranges of the full
/// parameter it holds, in its own order; a replica holds all of it.
struct ParameterShard {
    let parameter: Parameter
    /// The whole model's parameter (the same object for a replica).
    let full: Parameter
    let segments: [Range<Int>]
    let isReplica: Bool

    init(_ parameter: Parameter, of full: Parameter, segments: [Range<Int>]) {
        precondition(segments.reduce(0) { $0 + $1.count } == parameter.count,
                     "\(parameter.name): the shard's \(parameter.count) elements against \(segments) of the full parameter")
        self.parameter = parameter; self.full = full; self.segments = segments; isReplica = false
    }

    private init(replica: Parameter, of full: Parameter) {
        parameter = replica; self.full = full; segments = [0 ..< full.count]; isReplica = true
    }

    static func replica(_ parameter: Parameter, of full: Parameter) -> ParameterShard { ParameterShard(replica: parameter, of: full) }

    /// Fill this shard's values from the full parameter's `source`.
    func copySlice(from source: UnsafePointer<Float>) {
        var at = parameter.value.data
        for s in segments {
            at.update(from: source + s.lowerBound, count: s.count)
            at += s.count
        }
    }

    /// Write `values` (this shard's elements) into their places in the full parameter's `target`.
    func scatter(_ values: ArraySlice<Float>, into target: inout [Float]) {
        var i = values.startIndex
        for s in segments {
            target.replaceSubrange(s, with: values[i ..< i + s.count])
            i += s.count
        }
    }
}

/// Megatron's f: the identity forward; backward, the all-reduce that sums the input gradients
/// of the ranks' partial computations.
final class CopyToTensorParallel: Layer {
    let name: String
    let rank: Rank
    var needsInputGradient = true

    init(_ name: String, _ rank: Rank) { self.name = name; self.rank = rank }

    func outputShape(for input: [Int]) throws -> [Int] { input }
    func forward(_ x: Tensor, training: Bool) -> Tensor { x }
    func backward(_ dy: Tensor) -> Tensor? {
        rank.allReduce(dy, .sum, name: "tensor.activation_gradients")
        return dy
    }
}

/// Megatron's g: the all-reduce that sums the ranks' partial outputs forward; the identity backward.
final class ReduceFromTensorParallel: Layer {
    let name: String
    let rank: Rank
    var needsInputGradient = true

    init(_ name: String, _ rank: Rank) { self.name = name; self.rank = rank }

    func outputShape(for input: [Int]) throws -> [Int] { input }
    func forward(_ x: Tensor, training: Bool) -> Tensor {
        rank.allReduce(x, .sum, name: "tensor.activations")
        return x
    }
    func backward(_ dy: Tensor) -> Tensor? { dy }
}
