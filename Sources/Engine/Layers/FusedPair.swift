/// Two adjacent layers of a `Sequential` run as one pass over memory, with the result, the
/// gradients and the trace events of the two run one after the other.
///
/// - ReLU, then max pooling: a maximum commutes with the monotone ReLU, so the pool runs on the
///   pre-activation and the ReLU on its k² times smaller output; the backward sends each gradient
///   to its window's arg-max only where the pooled value is positive. The ReLU's output and its
///   gradient are never written, and its two passes over the full-size activation disappear.
///   Bit-identical to the pair unfused: where a window's maximum is positive both pick the same
///   input (the first holding it), and where it is not both give the window zero gradient.
///
/// A `Sequential` fuses a pair only when no `LayerBoundaryObserver` is set (precision emulation
/// and quantization-aware training must see, and may change, the ReLU's output).
struct FusedPair {
    let relu: Activation
    let pool: MaxPool2d

    func forward(_ x: Tensor, training: Bool) -> Tensor {
        relu.recordForward(x)
        return pool.pool(x, applyingReLU: true)
    }

    func backward(_ dy: Tensor) -> Tensor? {
        guard pool.needsInputGradient else { return nil }
        let gx = pool.route(dy, maskingByOutput: true)
        guard relu.needsInputGradient else { return nil }
        relu.recordBackward(gx)
        return gx
    }
}

extension Sequential {
    /// The fused pair that starts at `layers[i]`, if the layers there form one.
    func fusedPair(at i: Int) -> FusedPair? {
        guard i + 1 < layers.count, let relu = layers[i] as? Activation, relu.kind == .relu,
              let pool = layers[i + 1] as? MaxPool2d else { return nil }
        return FusedPair(relu: relu, pool: pool)
    }
}
