/// Collapse every per-sample dimension into one: (batch, ...) → (batch, features). No copy: the
/// output is a view of the input's storage, rebuilt only when the input buffer changes.
public final class Flatten: Layer {
    public let name: String
    public var needsInputGradient = true
    private var outView: Tensor?
    private var gradView: Tensor?

    public init(_ name: String = "flatten") { self.name = name }

    public func outputShape(for input: [Int]) throws -> [Int] { [shapeCount(input)] }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let o = view(of: x, cached: &outView)
        return o
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        guard needsInputGradient, let shape = inputShape else { return nil }
        return view(of: dy, shape: shape, cached: &gradView)
    }

    private var inputShape: [Int]?

    private func view(of x: Tensor, cached: inout Tensor?) -> Tensor {
        inputShape = x.shape
        return view(of: x, shape: [x.rows, x.rowSize], cached: &cached)
    }

    private func view(of x: Tensor, shape: [Int], cached: inout Tensor?) -> Tensor {
        let pointer: UnsafeMutablePointer<Float>? = x.context.isMeta ? nil : x.data
        if let v = cached, v.count == shapeCount(shape), v.context.isMeta || v.data == pointer {
            v.reshape(shape)
            return v
        }
        let v = Tensor(view: pointer, of: x, shape: shape)
        cached = v
        return v
    }
}
