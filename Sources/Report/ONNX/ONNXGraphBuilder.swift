/// Builds an `ONNXGraph` one node at a time: every value and constant gets a unique name derived
/// from the layer it belongs to, so the graph reads back to the engine's layer names.
///
///     var b = ONNXGraphBuilder(name: "mlp")
///     let w = b.constant(.float("fc0.weight", [128, 784], values))
///     let y = b.node("Gemm", ["input", w], name: "fc0", attributes: [.int("transB", 1)])
struct ONNXGraphBuilder {
    private(set) var graph: ONNXGraph
    private var used: Set<String> = []

    init(name: String) { graph = ONNXGraph(name: name) }

    /// `base`, or `base_2`, `base_3`… if already taken.
    mutating func unique(_ base: String) -> String {
        var name = base, n = 1
        while used.contains(name) { n += 1; name = "\(base)_\(n)" }
        used.insert(name)
        return name
    }

    /// Add a graph input.
    mutating func input(_ info: ONNXValueInfo) -> String {
        used.insert(info.name)
        graph.inputs.append(info)
        return info.name
    }

    /// Add an initializer (renamed if its name is taken) and return its name.
    mutating func constant(_ tensor: ONNXTensor) -> String {
        var t = tensor
        t.name = unique(tensor.name)
        graph.initializers.append(t)
        return t.name
    }

    /// A float scalar constant.
    mutating func scalar(_ name: String, _ value: Float) -> String { constant(.float(name, [], [value])) }

    /// Add a node with one output, named after `name` and the operator; returns the output.
    mutating func node(_ opType: String, _ inputs: [String], name: String, attributes: [ONNXAttribute] = []) -> String {
        let output = unique(name + "." + opType)
        graph.nodes.append(ONNXNode(opType, inputs: inputs, outputs: [output], name: output, attributes: attributes))
        return output
    }

    /// An int64 vector constant (a shape, axes, pads).
    mutating func int64s(_ name: String, _ values: [Int]) -> String {
        constant(.int64(name, [values.count], values.map(Int64.init)))
    }

    /// Make `value` the graph output `name`, floats of `shape`: the node producing it is renamed
    /// (an Identity is added when `value` is a graph input).
    mutating func output(_ value: String, as name: String, shape: [ONNXDimension]) {
        if let i = graph.nodes.lastIndex(where: { $0.outputs == [value] }) {
            graph.nodes[i].outputs = [name]
        } else {
            graph.nodes.append(ONNXNode("Identity", inputs: [value], outputs: [name], name: name))
        }
        graph.outputs = [ONNXValueInfo(name, .float, shape)]
    }
}
