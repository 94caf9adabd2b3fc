import Engine

/// Which layers structured pruning thins: conv stage channels, hidden Linear widths, or both.
public enum ChannelScope: String, Codable, Sendable, CaseIterable {
    case all, conv, linear

    var prunesConv: Bool { self != .linear }
    var prunesLinear: Bool { self != .conv }
}

/// A structured-pruning plan: remove a fraction of the units of every prunable layer.
///
/// Units are hidden neurons of an MLP or a CNN head and output channels of CNN stages; the
/// classifier's outputs and the input channels are never removed. A unit is scored by the norm of
/// the weights that produce it (Li et al. 2017, Pruning Filters for Efficient ConvNets) unless the
/// caller supplies its own scores, such as first-order Taylor scores (Molchanov et al. 2017).
///
///     let plan = ChannelPruning(ratio: 0.5, norm: .l1)
///     let (small, kept) = try pruneChannels(model, plan)   // kept["fc0"]: surviving neurons of fc0
public struct ChannelPruning: Equatable, Sendable {
    /// Fraction of units removed from every prunable layer, in [0, 1]; at least one unit stays.
    public var ratio: Double
    /// How a unit's producing weights are scored when `scores` does not name its layer.
    public var norm: ChannelNorm
    /// Which layers are pruned.
    public var scope: ChannelScope
    /// Per-unit importance replacing the norms, keyed by the producing layer's name (`fc0`,
    /// `head0`, `stage1.block0.conv`, `stage1.block1.a.conv`); larger is kept.
    public var scores: [String: [Float]]?

    public init(ratio: Double, norm: ChannelNorm = .l1, scope: ChannelScope = .all, scores: [String: [Float]]? = nil) {
        self.ratio = ratio; self.norm = norm; self.scope = scope; self.scores = scores
    }

    /// Throws a `ConfigError` under `keyPath` when the ratio is not a fraction.
    public func validate(keyPath: String = "compression") throws {
        guard ratio.isFinite, ratio >= 0, ratio <= 1 else {
            throw ConfigError(keyPath: ConfigError.join(keyPath, "ratio"), reason: "must be between 0 and 1, got \(ratio)")
        }
    }
}

/// Key path that errors of structured pruning are reported under.
private let channelPruningKeyPath = "compression"

/// Remove a fraction of the hidden neurons and conv channels of an mlp or cnn model by surgery:
/// build the smaller model its reduced spec describes and copy the surviving weights into it.
///
/// Each prunable layer keeps its `n − round(ratio·n)` best-scored units (at least one). The next
/// layer keeps the matching inputs: the columns of a Linear, the input slice of a Conv2d, and after
/// flattening an NHWC map (H, W, C) every feature (h·W + w)·C + c of a kept channel c. BatchNorm
/// keeps the scale, shift and running statistics of the kept channels. In a residual stage every
/// output that meets the skip connection (block 0's conv and each block's `.b` conv) keeps one
/// channel set, scored by the sum of those layers' scores; each inner `.a` conv picks its own.
///
/// Removing units whose producing weights (and BatchNorm scale and shift) are zero leaves the
/// outputs of a ReLU network unchanged. LayerNorm is not exact under pruning: its statistics
/// run over fewer features. In a meta-mode context there are no weights to score, so unless
/// `scores` says otherwise the first units are kept.
///
///     let (small, kept) = try pruneChannels(model, ChannelPruning(ratio: 0.5, norm: .l2, scope: .conv))
///
/// - Parameters:
///   - model: a model of the mlp or cnn family without depthwise-separable stages.
///   - seed: seed of the new model (its dropout streams); pass the one the original was built with.
/// - Returns: the new model, in `model.context`, and the ascending kept unit indices of every
///   pruned layer, keyed by layer name.
/// - Throws: `ConfigError` under `compression` for an unsupported family or stage, a ratio
///   outside [0, 1], or scores that name no prunable layer or have the wrong length.
public func pruneChannels(_ model: Model, _ plan: ChannelPruning, seed: UInt64 = 0) throws -> (model: Model, kept: [String: [Int]]) {
    try plan.validate()
    var selection = UnitSelection(network: model.network, plan: plan, isMeta: model.context.isMeta)
    let spec: ArchitectureSpec
    switch model.spec {
    case .mlp(let s): spec = .mlp(try selection.reduce(s))
    case .cnn(let s): spec = .cnn(try selection.reduce(s))
    case .vit, .gpt:
        throw ConfigError(keyPath: channelPruningKeyPath,
                          reason: "structured pruning does not support the \(model.spec.family) family (only mlp and cnn)")
    }
    try selection.checkScoreNames()
    let pruned = try Model(spec: spec, inputShape: model.inputShape, classes: model.classes, context: model.context, seed: seed)
    if !model.context.isMeta {
        try copySurvivingWeights(from: model, to: pruned, kept: selection.kept)
    }
    return (pruned, selection.kept)
}

/// Chooses the kept units of every prunable layer and the reduced spec.
private struct UnitSelection {
    let plan: ChannelPruning
    let isMeta: Bool
    /// Every Linear and Conv2d of the network by name.
    let layers: [String: Layer]
    /// Layers that scores may name (prunable in some scope), whether pruned now or not.
    var prunableNames: [String] = []
    var kept: [String: [Int]] = [:]

    init(network: Sequential, plan: ChannelPruning, isMeta: Bool) {
        self.plan = plan
        self.isMeta = isMeta
        var byName: [String: Layer] = [:]
        for layer in leafLayers(of: network) { byName[layer.name] = layer }
        layers = byName
    }

    mutating func reduce(_ spec: MLPSpec) throws -> MLPSpec {
        var s = spec
        for i in s.widths.indices {
            s.widths[i] = try selectLinear("fc\(i)", width: s.widths[i])
        }
        return s
    }

    mutating func reduce(_ spec: CNNSpec) throws -> CNNSpec {
        var s = spec
        for (i, stage) in spec.stages.enumerated() {
            if stage.depthwise {
                throw ConfigError(keyPath: channelPruningKeyPath,
                                  reason: "structured pruning does not support depthwise-separable stages (stage \(i) is depthwise)")
            }
            let blocks = (0..<stage.blocks).map { "stage\(i).block\($0)" }
            // Outputs that meet a skip connection share one channel set; everything else picks its own.
            let groups: [[String]]
            if stage.residual && stage.blocks > 1 {
                groups = [[blocks[0] + ".conv"] + blocks.dropFirst().map { $0 + ".b.conv" }]
                    + blocks.dropFirst().map { [$0 + ".a.conv"] }
            } else {
                groups = blocks.map { [$0 + ".conv"] }
            }
            prunableNames += groups.joined()
            guard plan.scope.prunesConv else { continue }
            for group in groups {
                let summed = try group.map(unitScores).reduce(into: [Float](repeating: 0, count: stage.channels)) { total, scores in
                    for c in total.indices { total[c] += scores[c] }
                }
                let channels = keptChannels(summed, ratio: plan.ratio)
                for name in group { kept[name] = channels }
                s.stages[i].channels = channels.count
            }
        }
        for i in s.head.indices {
            s.head[i] = try selectLinear("head\(i)", width: s.head[i])
        }
        return s
    }

    /// Throws for a key of `scores` that is not a prunable layer of this model.
    func checkScoreNames() throws {
        for name in (plan.scores ?? [:]).keys.sorted() where !prunableNames.contains(name) {
            throw ConfigError.unknownName(name, kind: "prunable layer", among: prunableNames,
                                          keyPath: ConfigError.join(channelPruningKeyPath, "scores"))
        }
    }

    /// Kept count of the hidden Linear `name` of `width` units (the width itself out of scope).
    private mutating func selectLinear(_ name: String, width: Int) throws -> Int {
        prunableNames.append(name)
        guard plan.scope.prunesLinear else { return width }
        let units = keptChannels(try unitScores(name), ratio: plan.ratio)
        kept[name] = units
        return units.count
    }

    /// The caller's scores for layer `name`, or the norms of its producing weights.
    private func unitScores(_ name: String) throws -> [Float] {
        let weight: Parameter, axis: Int
        switch layers[name] {
        case let linear as Linear: weight = linear.weight; axis = 0       // (out, in): one row per neuron
        case let conv as Conv2d: weight = conv.weight; axis = 3           // (k, k, cin, cout): one filter per channel
        default: preconditionFailure("no Linear or Conv2d named \(name) in a network built from its spec")
        }
        let units = weight.shape[axis]
        if let given = plan.scores?[name] {
            guard given.count == units else {
                throw ConfigError(keyPath: ConfigError.join(channelPruningKeyPath, "scores.\(name)"),
                                  reason: "has \(given.count) scores but the layer has \(units) units")
            }
            return given
        }
        if isMeta { return [Float](repeating: 0, count: units) }
        return channelNorms(weight.value.data, shape: weight.shape, channelAxis: axis, norm: plan.norm)
    }
}

/// The layers of `network` in execution order, with residual bodies opened in place.
func leafLayers(of network: Sequential) -> [Layer] {
    network.layers.flatMap { layer -> [Layer] in
        switch layer {
        case let sequence as Sequential: return leafLayers(of: sequence)
        case let residual as Residual: return leafLayers(of: residual.body)
        default: return [layer]
        }
    }
}

// MARK: - Copying the survivors

/// Copy the kept units' weights of `old` into `new`, layer by layer, following which input
/// features of each layer survive.
private func copySurvivingWeights(from old: Model, to new: Model, kept: [String: [Int]]) throws {
    let oldLayers = leafLayers(of: old.network), newLayers = leafLayers(of: new.network)
    precondition(oldLayers.map(\.name) == newLayers.map(\.name), "a pruned network has the layers of its original")
    var shape = old.inputShape                         // per-sample shape of the original activation
    var incoming = Array(0..<(shape.last ?? 1))        // kept indices of its last dimension
    for (o, n) in zip(oldLayers, newLayers) {
        switch (o, n) {
        case let (o as Linear, n as Linear):
            let outputs = kept[o.name] ?? Array(0..<o.outFeatures)
            gather(o.weight.value, rows: outputs, columns: incoming, into: n.weight.value)
            if let ob = o.bias, let nb = n.bias { gather(ob.value, rows: [0], columns: outputs, into: nb.value) }
            incoming = outputs
        case let (o as Conv2d, n as Conv2d):
            let outputs = kept[o.name] ?? Array(0..<o.outChannels)
            gather(o.weight.value, rows: incoming, columns: outputs, into: n.weight.value)   // (k·k) × (cin, cout)
            if let ob = o.bias, let nb = n.bias { gather(ob.value, rows: [0], columns: outputs, into: nb.value) }
            incoming = outputs
        case let (o as BatchNorm, n as BatchNorm):
            gather(o.scale.value, rows: [0], columns: incoming, into: n.scale.value)
            gather(o.shift.value, rows: [0], columns: incoming, into: n.shift.value)
            copyRunningStatistics(from: o, to: n, channels: incoming)
        case let (o as LayerNorm, n as LayerNorm):
            gather(o.scale.value, rows: [0], columns: incoming, into: n.scale.value)
            gather(o.shift.value, rows: [0], columns: incoming, into: n.shift.value)
        case (is Flatten, _):
            // (H, W, C) → feature (h·W + w)·C + c: every position of each kept channel.
            let channels = shape.last ?? 1
            let positions = shape.dropLast().reduce(1, *)
            incoming = (0..<positions).flatMap { p in incoming.map { p * channels + $0 } }
        default:
            // Activations, pooling and dropout act per channel and keep the channel order.
            precondition(o.parameters.isEmpty, "\(o.name): no rule to prune a \(type(of: o)) with parameters")
        }
        shape = try o.outputShape(for: shape)
    }
}

/// Running mean and variance of the kept channels. The new layer creates its statistics at its
/// first forward, so one evaluation-mode pass on a single zero sample (not counted in the
/// context's totals) makes them before they are overwritten.
private func copyRunningStatistics(from old: BatchNorm, to new: BatchNorm, channels: [Int]) {
    guard let mean = old.runningMean, let variance = old.runningVariance else { return }
    let ctx = mean.context
    _ = ctx.measure { _ = new.forward(Tensor(shape: [1, new.channels], context: ctx), training: false) }
    guard let newMean = new.runningMean, let newVariance = new.runningVariance else { return }
    gather(mean, rows: [0], columns: channels, into: newMean)
    gather(variance, rows: [0], columns: channels, into: newVariance)
}

/// dst[s, i, j] = src[s, rows[i], columns[j]] over every leading slice s: the kept block of a
/// row-major tensor whose last two dimensions are indexed by `rows` and `columns`.
///
/// A Linear weight (out, in) takes kept outputs as rows and kept inputs as columns; a Conv2d
/// weight (k, k, cin, cout) has k·k slices of (cin, cout); a vector is one row.
private func gather(_ src: Tensor, rows: [Int], columns: [Int], into dst: Tensor) {
    let srcColumns = src.shape.last ?? 1
    let srcRows = src.shape.count >= 2 ? src.shape[src.shape.count - 2] : 1
    let slices = src.count / (srcRows * srcColumns)
    precondition(dst.count == slices * rows.count * columns.count,
                 "kept block \(slices)×\(rows.count)×\(columns.count) does not fill shape \(dst.shape)")
    let s = src.data, d = dst.data
    var k = 0
    for slice in 0..<slices {
        for r in rows {
            let row = s + (slice * srcRows + r) * srcColumns
            for c in columns { d[k] = row[c]; k += 1 }
        }
    }
}
