import Engine

/// One training micro-step of a GPT traced shape-only through the engine's own model code, with
/// every operation filed under the part of the model it belongs to, so a plan can put layers on
/// pipeline stages and cut them across tensor-parallel ranks.
///
///     let trace = try TransformerTrace(model: gpt, microBatch: 1, precision: .bf16)
///     trace.block.count        // the operations of one transformer layer (forward and backward)
///
/// Every transformer layer of a GPT executes the same operations, so one layer is traced — a
/// one-layer GPT of the same shape — and a plan multiplies it: the cost of tracing does not grow
/// with the depth. The ends are kept apart: the embedding, and the final norm, language-model
/// head and loss.
///
/// A shape beyond GPT-2 (`GPTSpec.isGPT2Shape` false) is traced as the GPT-2 layer of the same
/// hidden size, heads and sequence, with the parts that differ replaced (see `ModernBlock`): the
/// QKV projection at its grouped-query width, the MLP as SwiGLU at its own width, RMSNorm, the
/// rotary rotation, no biases, and in a mixture of experts a router plus the expert MLP's
/// operations times the tokens each expert slot processes (top-k × capacity factor).
public struct TransformerTrace: Sendable {
    public let model: GPTSpec
    public let microBatch: Int
    public let precision: FloatFormat
    /// One transformer layer's operations, forward and backward (the experts' at top-k × capacity
    /// factor of the tokens).
    public let block: [OpEvent]
    /// Token and position embedding, forward and backward.
    public let embedding: [OpEvent]
    /// Final layer norm, language-model head and cross-entropy, forward and backward.
    public let head: [OpEvent]
    /// The optimizer update over the traced one-layer model's `optimizerParameters` parameters
    /// (one rank, no sharding); its work scales with the parameters a rank updates.
    public let optimizer: [OpEvent]
    public let optimizerParameters: Int
    /// FLOPs of one layer's expert slots that capacity-factor padding adds, per micro-batch: in
    /// `block`, executed, but not model FLOPs (0 for a dense or dropless model).
    public let expertPaddingFLOPs: Double
    /// The parameters by component (`ModelParameters`).
    public let parameters: ModelParameters
    /// Parameters of one transformer layer outside its experts, and how many of them tensor
    /// parallelism splits.
    public var blockParameters: Int { parameters.block }
    public var blockSplitParameters: Int { parameters.blockSplit }
    /// Parameters of one layer's experts (all of them), and how many tensor parallelism splits.
    public var expertParameters: Int { parameters.experts }
    public var expertSplitParameters: Int { parameters.expertsSplit }
    /// Token-embedding (vocabulary-split), position-embedding and untied output-layer parameters.
    public var tokenParameters: Int { parameters.tokens }
    public var positionParameters: Int { parameters.positions }
    public var outputParameters: Int { parameters.outputLayer }
    /// Final norm parameters.
    public var finalNormParameters: Int { parameters.finalNorm }
    /// Every parameter (the LM head is tied to the token embedding unless the shape unties it).
    public var totalParameters: Int { parameters.total }
    /// Each layer's parameters — a module's own weight and bias, as DeepSpeed's estimator counts
    /// `model.modules()` — and how many of them tensor parallelism splits (the token embedding
    /// by the vocabulary).
    public var layerParameters: [String: (whole: Int, split: Int)] { parameters.modules }

    public init(model: GPTSpec, microBatch: Int, precision: FloatFormat) throws {
        self.model = model
        self.microBatch = microBatch
        self.precision = precision
        let ctx = ExecutionContext(mode: .meta, recordsEvents: true)
        ctx.computeDType = precision.dtype
        var oneLayer = GPTSpec(layers: 1, hidden: model.hidden, heads: model.heads, sequenceLength: model.sequenceLength,
                               vocabulary: model.vocabulary, mlpRatio: model.mlpRatio, dropout: model.dropout)
        if !model.isGPT2Shape { oneLayer.mlpRatio = 1 }   // its MLP is replaced: trace the smallest
        let spec = ArchitectureSpec.gpt(oneLayer)
        let net = try Model(spec: spec, inputShape: [model.sequenceLength], classes: model.vocabulary, context: ctx, seed: 0)
        let x = Tensor(shape: [microBatch, model.sequenceLength], context: ctx)
        let labels = [Int32](repeating: 0, count: microBatch * model.sequenceLength)
        _ = labels.withUnsafeBufferPointer { net.accumulateGradients(x, labels: $0.baseAddress!) }
        let passes = ctx.events
        ctx.phase = .optimizer
        AdamW.adam().step(net.store, learningRate: 1e-3)
        optimizer = Array(ctx.events[passes.count...])

        var block: [OpEvent] = [], embedding: [OpEvent] = [], head: [OpEvent] = []
        for e in passes {
            if e.name.hasPrefix("block0.") { block.append(e) }
            else if e.name.hasPrefix("block") { continue }
            else if e.name.hasPrefix("embed") { embedding.append(e) }
            else { head.append(e) }
        }
        var padding = 0.0
        if !model.isGPT2Shape {
            let modern = try ModernBlock(model: model, microBatch: microBatch, precision: precision, gpt2Block: block)
            block = modern.events
            padding = modern.expertPaddingFLOPs
        }
        self.block = Self.fusingBiasAdds(block); self.embedding = embedding; self.head = head
        expertPaddingFLOPs = padding
        optimizerParameters = net.parameterCount
        parameters = ModelParameters(model)
    }

    /// `events` with each forward bias add folded into the product before it: its FLOPs join the
    /// product's and its pass over memory goes. Training stacks do not run a bias add as a kernel
    /// of its own: PyTorch's linear layer adds the bias in the GEMM (addmm), and Megatron-LM fuses
    /// the column-parallel bias with GeLU and the row-parallel bias with dropout and the residual
    /// add (Narayanan et al. 2021, §4.2, "bias + GeLU" and "bias + dropout + add"), whose
    /// remaining traffic the GeLU and the residual add already carry. The bias gradients (a sum
    /// over the tokens) stay kernels of their own.
    static func fusingBiasAdds(_ events: [OpEvent]) -> [OpEvent] {
        var out: [OpEvent] = []
        out.reserveCapacity(events.count)
        for e in events {
            if e.phase == .forward, e.name.hasSuffix(".bias"),
               let i = out.lastIndex(where: { $0.phase == .forward && $0.kind == .matmul && $0.name == String(e.name.dropLast(5)) }) {
                out[i].flops += e.flops
                continue
            }
            out.append(e)
        }
        return out
    }

    /// The parameters of the largest layer one of `t` tensor-parallel ranks holds (ZeRO-3 gathers
    /// it whole: DeepSpeed's `largest_layer_params`).
    public func largestLayerParameters(tensorParallel t: Int) -> Double {
        layerParameters.values.map { Double($0.whole - $0.split) + Double($0.split) / Double(max(t, 1)) }.max() ?? 0
    }

    /// Whether Megatron's tensor parallelism cuts an operation or parameter of a layer: the QKV,
    /// attention core and output projection by heads, the MLP by its hidden columns — except the
    /// biases added after the row-parallel projections (`attn.proj.bias`, `mlp.proj.bias`), which
    /// every rank keeps whole. Layer norms and residual adds are replicated.
    static func isSplit(_ name: String) -> Bool {
        guard name.contains(".attn.") || name.contains(".mlp.") else { return false }
        return !(name.hasSuffix("attn.proj.bias") || name.hasSuffix("mlp.proj.bias")
                 || name.hasSuffix("attn.proj.bias.grad") || name.hasSuffix("mlp.proj.bias.grad"))
    }

    /// Operations recomputed in the backward pass: the whole layer's forward (full), or the
    /// attention core — scores, softmax, context — (selective).
    func recomputed(_ checkpointing: ParallelPlan.Checkpointing) -> [OpEvent] {
        switch checkpointing {
        case .none: return []
        case .full: return block.filter { $0.phase == .forward }
        case .selective:
            return block.filter { e in
                e.phase == .forward && (e.name.hasSuffix(".attn.scores") || e.name.hasSuffix(".attn.softmax") || e.name.hasSuffix(".attn.context"))
            }
        }
    }
}

extension OpEvent {
    /// The share one of `ranks` ranks executes when the operation is split evenly among them.
    func shard(_ ranks: Int) -> OpEvent {
        guard ranks > 1 else { return self }
        var e = self
        let k = Double(ranks)
        e.flops /= k; e.bytesRead /= k; e.bytesWritten /= k
        return e
    }
}
