import Engine

/// The operations of one transformer layer of a shape beyond GPT-2, from the GPT-2 layer of the
/// same hidden size, heads and sequence traced through the engine: what is the same is kept (the
/// attention core — scores, softmax, context and their gradients, whose FLOPs grouped-query
/// attention leaves unchanged since every query head still attends over s keys —, the output
/// projection, the residual adds), and what differs is traced through the engine's own layers in
/// meta mode or, for the three operations the engine has no layer for, counted per element:
///
///     QKV projection    Linear(h, h + 2·kv): grouped-query attention (Ainslie et al. 2023) with g
///                       key/value heads of width d projects h + 2·g·d columns, not 3h
///     MLP               GELU: Linear(h, f) → GELU → Linear(f, h); SwiGLU (Shazeer 2020, eq. 6):
///                       Linear(h, 2f) (gate and up together, as Megatron's fused linear_fc1) →
///                       SiLU over f → the gate product (1 FLOP per element forward, 2 backward) →
///                       Linear(f, h)
///     RMSNorm           (Zhang & Sennrich 2019) LayerNorm's reads and writes with fewer FLOPs per
///                       element: 4 forward (square, sum, 1/rms, × g) against 8, 2 for the weight
///                       gradient against 3, 6 for the input gradient against 8
///     rotary            (Su et al. 2021, §3.4.2) Q and K rotated, x·cos + rot(x)·sin: 3 FLOPs per
///                       element of the h + kv rotated columns, forward and backward
///     mixture           (Shazeer et al. 2017; Fedus et al. 2021, §2.2): a router Linear(h, E) with
///                       its softmax, and the expert MLP's operations times k·c — each token goes
///                       to its top-k experts, each expert padded to c (the capacity factor) times
///                       its share; dropless routing is c = 1
///
/// Without biases (`bias` false) every bias operation is left out.
struct ModernBlock {
    /// One layer's operations, forward and backward.
    var events: [OpEvent] = []
    /// The expert FLOPs capacity padding adds: the experts' FLOPs × (c − 1)/c.
    var expertPaddingFLOPs = 0.0

    init(model s: GPTSpec, microBatch b: Int, precision: FloatFormat, gpt2Block: [OpEvent]) throws {
        let h = s.hidden, kv = s.keyValueWidth, f = s.ffnWidth
        let tokens = Double(b * s.sequenceLength)
        let replaced = ["block0.attn.qkv", "block0.mlp."]
        events = gpt2Block.filter { e in
            !replaced.contains(where: e.name.hasPrefix) && (s.bias || !e.name.contains(".bias"))
        }
        if s.norm == .rmsNorm {
            events = events.map { e in
                guard e.kind == .normalization else { return e }
                var r = e
                r.flops *= e.name.hasSuffix(".dparams") ? 2.0 / 3 : e.name.hasSuffix(".dx") ? 6.0 / 8 : 4.0 / 8
                return r
            }
        }
        let ctx = ExecutionContext(mode: .meta, recordsEvents: true)
        ctx.computeDType = precision.dtype
        func run(_ layers: [Layer], input width: Int) {
            let x = Tensor(shape: [b, s.sequenceLength, width], context: ctx)
            ctx.phase = .forward
            var y = x
            for layer in layers { y = layer.forward(y, training: true) }
            ctx.phase = .backward
            var dy: Tensor? = y
            for layer in layers.reversed() { dy = dy.flatMap { layer.backward($0) } }
        }
        func perElement(_ name: String, _ kind: OpKind, forward: Double, backward: Double, elements n: Double) {
            ctx.phase = .forward
            ctx.record(name, kind, flops: forward * n, read: 2 * n, written: n)
            ctx.phase = .backward
            ctx.record(name + ".grad", kind, flops: backward * n, read: 3 * n, written: 2 * n)
        }

        run([Linear("block0.attn.qkv", h, h + 2 * kv, bias: s.bias)], input: h)
        if s.positions == .rotary {
            perElement("block0.attn.rotary", .elementwise, forward: 3, backward: 3, elements: tokens * Double(h + kv))
        }
        if s.isMixtureOfExperts {
            run([Linear("block0.moe.router", h, s.experts, bias: false)], input: h)
            perElement("block0.moe.softmax", .softmax, forward: 5, backward: 4, elements: tokens * Double(s.experts))
        }
        let mlpStart = ctx.events.count
        let swiglu = s.mlp == .swiglu
        let activation: ActivationKind = swiglu ? .silu : .gelu
        if swiglu {
            let fc = Linear("block0.mlp.fc", h, 2 * f, bias: s.bias)
            ctx.phase = .forward
            let up = fc.forward(Tensor(shape: [b, s.sequenceLength, h], context: ctx), training: true)
            _ = up
            let act = Activation(activation, name: "block0.mlp.silu")
            let gated = Tensor(shape: [b, s.sequenceLength, f], context: ctx)
            let y = act.forward(gated, training: true)
            ctx.record("block0.mlp.gate", .elementwise, flops: tokens * Double(f), read: 2 * tokens * Double(f), written: tokens * Double(f))
            let proj = Linear("block0.mlp.proj", f, h, bias: s.bias)
            let out = proj.forward(y, training: true)
            ctx.phase = .backward
            let dGated = proj.backward(out)!
            ctx.record("block0.mlp.gate.grad", .elementwise, flops: 2 * tokens * Double(f), read: 3 * tokens * Double(f),
                       written: 2 * tokens * Double(f))
            _ = act.backward(dGated)
            _ = fc.backward(Tensor(shape: [b, s.sequenceLength, 2 * f], context: ctx))
        } else {
            run([Linear("block0.mlp.fc", h, f, bias: s.bias), Activation(activation, name: "block0.mlp.gelu"),
                 Linear("block0.mlp.proj", f, h, bias: s.bias)], input: h)
        }
        var traced = ctx.events
        if s.isMixtureOfExperts {
            let slots = Double(s.topK) * (s.capacityFactor ?? 1)
            var expertFLOPs = 0.0
            for i in mlpStart..<traced.count {
                traced[i] = traced[i].scaledWork(slots)
                expertFLOPs += traced[i].flops
            }
            expertPaddingFLOPs = expertFLOPs * (1 - 1 / (s.capacityFactor ?? 1))
        }
        events += traced
    }
}
