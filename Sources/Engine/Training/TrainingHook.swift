/// A way to change how a model trains without a second training loop: mixed precision, loss
/// scaling, quantization-aware training, pruning masks, distillation and weight sharing are all
/// hooks on `Trainer`.
///
/// Hooks run in the order given, at these points of every optimizer step:
///
///     prepare                       once, before the first step
///     willForward     ┐ per micro-batch
///     loss            ┘ (the first hook that returns a loss replaces cross-entropy)
///     willStep                      after the micro-batches; false skips the optimizer step
///     didStep                       after the optimizer step
///     willEvaluate / didEvaluate    around every validation and test pass
public protocol TrainingHook: AnyObject {
    /// Called once the model is built (or given) and before its first step.
    func prepare(_ model: Model, training: Dataset) throws
    /// Called before each micro-batch's forward pass, with its input.
    func willForward(_ model: Model, input: Tensor, step: Int)
    /// A replacement for the cross-entropy of this micro-batch, or nil to keep it.
    func loss(_ model: Model, logits: Tensor, input: Tensor, labels: UnsafePointer<Int32>) -> SoftmaxCrossEntropy.Result?
    /// Multiplies ∂loss/∂logits (a loss scale); the product over all hooks is applied.
    var gradientScale: Float { get }
    /// Called with the step's accumulated gradients, before clipping and the update; returning
    /// false skips the update (an overflowing step under loss scaling).
    func willStep(_ model: Model, step: Int) -> Bool
    /// Called after the optimizer updated the weights.
    func didStep(_ model: Model, step: Int)
    func willEvaluate(_ model: Model)
    func didEvaluate(_ model: Model)
}

extension TrainingHook {
    public func prepare(_ model: Model, training: Dataset) throws {}
    public func willForward(_ model: Model, input: Tensor, step: Int) {}
    public func loss(_ model: Model, logits: Tensor, input: Tensor, labels: UnsafePointer<Int32>) -> SoftmaxCrossEntropy.Result? { nil }
    public var gradientScale: Float { 1 }
    public func willStep(_ model: Model, step: Int) -> Bool { true }
    public func didStep(_ model: Model, step: Int) {}
    public func willEvaluate(_ model: Model) {}
    public func didEvaluate(_ model: Model) {}
}
