import Engine

/// Walking and rebuilding a model's network: how compression finds the weights it works on and
/// swaps layers (a factorized Linear, a fake-quantizing wrapper, an int8 kernel) in and out.
public enum NetworkSurgery {
    /// Every layer that is not a container, in execution order: `Sequential`, `Residual` and
    /// transformer blocks are opened up.
    public static func leaves(_ layer: Layer) -> [Layer] {
        switch layer {
        case let s as Sequential: return s.layers.flatMap(leaves)
        case let r as Residual: return leaves(r.body)
        case let t as TransformerBlock: return leaves(t.body)
        default: return [layer]
        }
    }

    /// A copy of `network` with every leaf for which `replace` returns a layer swapped for it
    /// (containers are rebuilt around their new children; transformer blocks are left whole).
    public static func rebuild(_ network: Sequential, _ replace: (Layer) throws -> Layer?) rethrows -> Sequential {
        Sequential(network.name, try network.layers.map { try rebuildLayer($0, replace) })
    }

    private static func rebuildLayer(_ layer: Layer, _ replace: (Layer) throws -> Layer?) rethrows -> Layer {
        switch layer {
        case let s as Sequential: return try rebuild(s, replace)
        case let r as Residual: return Residual(r.name, try r.body.layers.map { try rebuildLayer($0, replace) })
        default: return try replace(layer) ?? layer
        }
    }

    /// A model around `network` (built from `model`'s layers), with every parameter that both
    /// share keeping its value. The old model must not be used afterwards: its parameters now
    /// live in the new store.
    public static func remodel(_ model: Model, network: Sequential) throws -> Model {
        var saved: [ObjectIdentifier: [Float]] = [:]
        for p in model.store.parameters { saved[ObjectIdentifier(p)] = p.value.array }
        let new = try Model(network: network, spec: model.spec, inputShape: model.inputShape, classes: model.classes, context: model.context)
        for p in new.store.parameters {
            guard let values = saved[ObjectIdentifier(p)] else { continue }
            values.withUnsafeBufferPointer { p.value.data.update(from: $0.baseAddress!, count: values.count) }
        }
        return new
    }

    /// The weight tensors compression works on — Linear, Conv2d and depthwise weights, attention
    /// and MLP projections (every parameter with weight decay) — with the axis of their output
    /// channels. Embeddings are kept: they are lookups, not products.
    public static func weights(of model: Model) -> [CompressibleWeight] {
        var out: [CompressibleWeight] = []
        var seen = Set<ObjectIdentifier>()
        for layer in leaves(model.network) {
            if layer is Embedding { for p in layer.parameters { seen.insert(ObjectIdentifier(p)) } }
            for p in layer.parameters where p.decays && seen.insert(ObjectIdentifier(p)).inserted {
                let axis: Int
                switch layer {
                case is Linear: axis = 0
                case is Conv2d: axis = 3
                default: axis = p.shape.count == 2 ? 0 : p.shape.count - 1
                }
                out.append(CompressibleWeight(layer: layer.name, parameter: p, channelAxis: axis))
            }
        }
        return out
    }
}

/// One weight tensor and the axis its output channels run along.
public struct CompressibleWeight {
    public let layer: String
    public let parameter: Parameter
    public let channelAxis: Int

    public var channels: Int { parameter.shape[channelAxis] }
    public var count: Int { parameter.count }
}
