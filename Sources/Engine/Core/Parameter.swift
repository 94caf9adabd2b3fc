/// A trainable tensor and its gradient, both views into a model's flat parameter buffers.
public final class Parameter {
    public let name: String
    public let shape: [Int]
    /// Whether decoupled weight decay applies (weights yes; biases and norm scales no).
    public let decays: Bool
    /// Fan-in used by default initialisers.
    public var count: Int { shapeCount(shape) }
    /// Offset of this parameter in the flat buffers.
    public internal(set) var offset = 0
    private var boundValue: Tensor?
    private var boundGrad: Tensor?

    public init(_ name: String, shape: [Int], decays: Bool) {
        self.name = name
        self.shape = shape
        self.decays = decays
    }

    @inline(__always) public var value: Tensor {
        guard let v = boundValue else { preconditionFailure("parameter \(name) used before its model bound it") }
        return v
    }

    @inline(__always) public var grad: Tensor {
        guard let g = boundGrad else { preconditionFailure("parameter \(name) used before its model bound it") }
        return g
    }

    func bind(value: Tensor, grad: Tensor, offset: Int) {
        boundValue = value; boundGrad = grad; self.offset = offset
    }
}

/// All parameters of a model in one contiguous value buffer and one contiguous gradient buffer
/// (as llm.c does), so optimizers, clipping and zeroing are single passes over flat memory.
public final class ParameterStore {
    public let parameters: [Parameter]
    /// Total elements, including alignment padding between parameters.
    public let count: Int
    /// Trainable elements (no padding).
    public let parameterCount: Int
    public let values: Tensor
    public let grads: Tensor

    /// Lay out `parameters` (each 16-float aligned) and bind them to views of two new buffers.
    public init(_ parameters: [Parameter], context: ExecutionContext) {
        self.parameters = parameters
        var offsets: [Int] = []
        var n = 0
        for p in parameters {
            offsets.append(n)
            n += (p.count + 15) / 16 * 16
        }
        count = n
        parameterCount = parameters.reduce(0) { $0 + $1.count }
        values = Tensor(shape: [n], context: context)
        grads = Tensor(shape: [n], context: context)
        let meta = context.isMeta
        for (p, off) in zip(parameters, offsets) {
            p.bind(value: Tensor(view: meta ? nil : values.data + off, of: values, shape: p.shape),
                   grad: Tensor(view: meta ? nil : grads.data + off, of: grads, shape: p.shape),
                   offset: off)
        }
    }

    public func zeroGradients() {
        recordZeroing()
        if !grads.context.isMeta { fillZeros(grads.data, count: count) }
    }

    /// The trace event of zeroing every gradient, also recorded by an optimizer that zeroes them
    /// in its own pass (`Optimizer.stepZeroingGradients`).
    func recordZeroing() {
        grads.context.record("zero_grad", .elementwise, flops: 0, read: 0, written: Double(count))
    }
}
