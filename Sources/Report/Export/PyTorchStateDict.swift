import Engine

/// An engine model's trained tensors as the `state_dict` of the `Model` that `PyTorchModelCode`
/// writes for its architecture: the same names, shapes and values in PyTorch's layouts, so that
/// `model.load_state_dict` gives the engine's logits.
///
/// Walked layer by layer over the engine's network, with the conversions the ONNX exporter makes
/// (`FilterLayout.swift`):
/// - an MLP or CNN is one `nn.Sequential` named `layers`: every engine layer is one module, a
///   depthwise-separable convolution two (`groups=C` then 1×1), and a residual block
///   `layers.N.body.M`;
/// - Linear: the engine's (out, in) weight as is; Conv2d (k, k, cin, cout) as OIHW; depthwise
///   (k, k, C) as (C, 1, k, k); BatchNorm: γ, β and the running mean and (unbiased) variance;
///   LayerNorm: γ and β;
/// - the first Linear after a Flatten of an image: the engine flattens NHWC (h, w, c), PyTorch
///   NCHW (c, h, w), so its input columns are reordered to (c, h, w);
/// - ViT: the patch projection (d, p·p·C), rows read (row in patch, column in patch, channel), is
///   the (p, p, C, d) filter of a stride-p convolution once transposed: written OIHW; positions,
///   blocks (`ln1`, `attn.qkv`, `attn.proj`, `ln2`, `mlp.0`, `mlp.2`), `final_ln` and
///   `classifier`; QKV rows are Q, K, V and head by head inside each, as `SelfAttention` splits them;
/// - GPT: `tokens.weight`, `positions`, the blocks, `final_ln`; the head is tied to `tokens.weight`
///   and has no entry of its own (`named_parameters` lists the tied weight once).
///
/// Batch norms' `num_batches_tracked` has no entry: the engine does not count batches (PyTorch
/// only uses it without a momentum, and the script's batch norms have one).
///
///     let entries = try PyTorchStateDict.entries(of: model)
///     entries[1].name    // "layers.1.weight"
struct PyTorchStateDict {
    /// One tensor of the state_dict.
    struct Entry: Equatable {
        var name: String
        var shape: [Int]
        var values: [Float]
    }

    /// The model's tensors, in module order.
    /// - Throws: `ReportError` for a layer the generated model has no module for (compressed
    ///   layers: int8, fake-quantized or factorized ones).
    static func entries(of model: Model) throws -> [Entry] {
        var walk = PyTorchStateDict()
        switch model.spec {
        case .mlp, .cnn:
            var shape = model.inputShape
            try walk.sequential(model.network.layers, prefix: "layers.", shape: &shape)
        case .vit, .gpt:
            try walk.transformer(model.network.layers)
        }
        return walk.entries
    }

    /// The state_dict as one .npz archive, keyed by the entries' names.
    static func npzArchive(_ entries: [Entry]) throws -> [UInt8] {
        try npz(entries.map { ($0.name, npyFloat32($0.values, shape: $0.shape)) })
    }

    private var entries: [Entry] = []
    /// (height, width, channels) of the image the last Flatten flattened, until a Linear reads it.
    private var flattenedImage: (height: Int, width: Int, channels: Int)?

    private mutating func add(_ name: String, _ shape: [Int], _ values: [Float]) {
        precondition(values.count == shape.reduce(1, *), "\(name): \(values.count) values for shape \(shape)")
        entries.append(Entry(name: name, shape: shape, values: values))
    }

    // MARK: MLP and CNN

    /// `layers` as the modules of an `nn.Sequential` whose entries are named `prefix` + index;
    /// `shape` follows the per-sample shape through them.
    private mutating func sequential(_ layers: [Layer], prefix: String, shape: inout [Int]) throws {
        var index = 0
        for layer in layers {
            index += try module(layer, at: prefix, index, input: shape)
            shape = try layer.outputShape(for: shape)
        }
    }

    /// The entries of `layer` as module `index` (and after) of a sequential; returns how many
    /// modules it is.
    private mutating func module(_ layer: Layer, at prefix: String, _ index: Int, input: [Int]) throws -> Int {
        let name = prefix + String(index) + "."
        if flattenedImage != nil, !(layer is Linear || layer is Activation || layer is Dropout || layer is Flatten) {
            throw ReportError("pytorch export: '\(layer.name)' reads flattened image features before any linear layer; the script's model has no form for it")
        }
        switch layer {
        case is Activation, is Dropout, is MaxPool2d, is AvgPool2d, is GlobalAvgPool:
            return 1
        case is Flatten:
            if input.count == 3 { flattenedImage = (input[0], input[1], input[2]) }
            return 1
        case let l as Linear:
            var weight = l.weight.value.array
            if let image = flattenedImage {
                weight = channelsFirstColumns(weight, rows: l.outFeatures, image: image)
                flattenedImage = nil
            }
            add(name + "weight", [l.outFeatures, l.inFeatures], weight)
            if let b = l.bias { add(name + "bias", [l.outFeatures], b.value.array) }
            return 1
        case let c as Conv2d:
            convolution(c, name)
            return 1
        case let d as DepthwiseConv2d:
            depthwise(d, name)
            return 1
        case let s as DepthwiseSeparableConv2d:
            depthwise(s.depthwise, name)
            convolution(s.pointwise, prefix + String(index + 1) + ".")
            return 2
        case let bn as BatchNorm:
            let (mean, variance) = runningStatistics(bn)
            add(name + "weight", [bn.channels], bn.scale.value.array)
            add(name + "bias", [bn.channels], bn.shift.value.array)
            add(name + "running_mean", [bn.channels], mean)
            add(name + "running_var", [bn.channels], variance)
            return 1
        case let ln as LayerNorm:
            layerNorm(ln, name)
            return 1
        case let r as Residual:
            var shape = input
            try sequential(r.body.layers, prefix: name + "body.", shape: &shape)
            return 1
        default:
            throw ReportError("pytorch export: the script's model has no module for layer '\(layer.name)' (\(type(of: layer)))")
        }
    }

    private mutating func convolution(_ c: Conv2d, _ name: String) {
        let k = c.kernel
        add(name + "weight", [c.outChannels, c.inChannels, k, k],
            convolutionOIHW(c.weight.value.array, kernel: k, inChannels: c.inChannels, outChannels: c.outChannels))
        if let b = c.bias { add(name + "bias", [c.outChannels], b.value.array) }
    }

    private mutating func depthwise(_ d: DepthwiseConv2d, _ name: String) {
        let k = d.kernel
        add(name + "weight", [d.channels, 1, k, k], depthwiseOIHW(d.weight.value.array, kernel: k, channels: d.channels))
        if let b = d.bias { add(name + "bias", [d.channels], b.value.array) }
    }

    private mutating func layerNorm(_ ln: LayerNorm, _ name: String) {
        add(name + "weight", [ln.features], ln.scale.value.array)
        add(name + "bias", [ln.features], ln.shift.value.array)
    }

    // MARK: ViT and GPT

    private mutating func transformer(_ layers: [Layer]) throws {
        var blocks = 0
        for layer in layers {
            switch layer {
            case let p as PatchEmbedding:
                let (k, d) = (p.patch * p.patch * p.channels, p.dimension)
                add("patch_embed.proj.weight", [d, p.channels, p.patch, p.patch],
                    convolutionOIHW(transposed(p.weight.value.array, rows: d, columns: k), kernel: p.patch, inChannels: p.channels, outChannels: d))
                add("patch_embed.proj.bias", [d], p.bias.value.array)
                add("patch_embed.positions", [p.tokens, d], p.positions.value.array)
            case let e as Embedding:
                add("tokens.weight", [e.vocabulary, e.dimension], e.tokens.value.array)
                add("positions", [e.sequenceLength, e.dimension], e.positions.value.array)
            case let t as TransformerBlock:
                try block(t, "blocks.\(blocks).")
                blocks += 1
            case let ln as LayerNorm:
                layerNorm(ln, "final_ln.")
            case is TokenPooling:
                break
            case let l as Linear where !l.ownsWeight && l.bias == nil:
                break                                   // the GPT's head, tied to tokens.weight
            case let l as Linear:
                add("classifier.weight", [l.outFeatures, l.inFeatures], l.weight.value.array)
                if let b = l.bias { add("classifier.bias", [l.outFeatures], b.value.array) }
            default:
                throw ReportError("pytorch export: the script's model has no module for layer '\(layer.name)' (\(type(of: layer)))")
            }
        }
    }

    /// A block's two residual branches: [LayerNorm, attention, (dropout)] and [LayerNorm, Linear,
    /// activation, Linear, (dropout)], as `Block`'s `ln1`, `attn`, `ln2` and `mlp` (0 and 2).
    private mutating func block(_ t: TransformerBlock, _ name: String) throws {
        let branches = t.body.layers.compactMap { ($0 as? Residual)?.body.layers.filter { !($0 is Dropout) } }
        guard branches.count == 2, let ln1 = branches[0].first as? LayerNorm, branches[0].count == 2,
              let a = branches[0][1] as? MultiHeadSelfAttention, a.innerDimension == a.dimension, let outputBias = a.outputBias,
              branches[1].count == 4, let ln2 = branches[1][0] as? LayerNorm, let fc = branches[1][1] as? Linear,
              branches[1][2] is Activation, let proj = branches[1][3] as? Linear else {
            throw ReportError("pytorch export: transformer block '\(t.name)' is not the script's Block (layer norm, attention, layer norm, MLP)")
        }
        layerNorm(ln1, name + "ln1.")
        add(name + "attn.qkv.weight", [3 * a.dimension, a.dimension], a.qkvWeight.value.array)
        add(name + "attn.qkv.bias", [3 * a.dimension], a.qkvBias.value.array)
        add(name + "attn.proj.weight", [a.dimension, a.dimension], a.outputWeight.value.array)
        add(name + "attn.proj.bias", [a.dimension], outputBias.value.array)
        layerNorm(ln2, name + "ln2.")
        for (i, l) in [(0, fc), (2, proj)] {
            guard let b = l.bias else { throw ReportError("pytorch export: '\(l.name)' has no bias; the script's Block has one") }
            add(name + "mlp.\(i).weight", [l.outFeatures, l.inFeatures], l.weight.value.array)
            add(name + "mlp.\(i).bias", [l.outFeatures], b.value.array)
        }
    }
}

/// A (rows, h·w·c) weight whose columns are read in (h, w, c) order, with its columns reordered to
/// (c, h, w): what a Linear needs after PyTorch's Flatten of an NCHW image.
func channelsFirstColumns(_ weight: [Float], rows: Int, image: (height: Int, width: Int, channels: Int)) -> [Float] {
    let (h, w, c) = image, columns = h * w * c
    precondition(weight.count == rows * columns, "\(weight.count) values for \(rows) rows of \(h)×\(w)×\(c) columns")
    var out = [Float](repeating: 0, count: weight.count)
    for r in 0..<rows {
        for y in 0..<h { for x in 0..<w { for k in 0..<c {
            out[r * columns + (k * h + y) * w + x] = weight[r * columns + (y * w + x) * c + k]
        } } }
    }
    return out
}
