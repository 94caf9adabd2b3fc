import Engine
import Foundation

/// A trained model's numbers — its weights, then every batch norm's running statistics — as
/// FP32, in the order the spec builds them: what a teacher cache writes to disk and what lets
/// several compression runs start from one trained baseline.
public struct ModelState: Sendable {
    public let spec: ArchitectureSpec
    public let inputShape: [Int]
    public let classes: Int
    public let seed: UInt64
    public let values: [Float]

    /// The numbers of `model` (built from `spec` with `seed`).
    public init(_ model: Model, seed: UInt64) {
        spec = model.spec; inputShape = model.inputShape; classes = model.classes; self.seed = seed
        values = Self.tensors(model).flatMap(\.array)
    }

    /// A new model in its own context with these numbers.
    public func model() throws -> Model {
        let m = try Model(spec: spec, inputShape: inputShape, classes: classes, context: ExecutionContext(), seed: seed)
        guard Self.restore(m, from: values) else { preconditionFailure("a model state does not fit the model its spec builds") }
        return m
    }

    /// The tensors a state holds, in order. Running statistics exist after a first forward; a
    /// model that has none yet gets them from one uncounted evaluation pass.
    static func tensors(_ model: Model) -> [Tensor] {
        [model.store.values] + runningStatistics(model).flatMap { [$0.mean, $0.variance] }
    }

    /// Every batch norm's running mean and variance, in network order; a model that has none yet
    /// gets them from one uncounted evaluation pass.
    static func runningStatistics(_ model: Model) -> [(layer: BatchNorm, mean: Tensor, variance: Tensor)] {
        let norms = NetworkSurgery.leaves(model.network).compactMap { $0 as? BatchNorm }
        if norms.contains(where: { $0.runningMean == nil }) {
            _ = model.context.measure {
                _ = model.forward(Tensor(shape: [1] + model.inputShape, context: model.context), training: false)
            }
        }
        return norms.compactMap { bn in
            guard let m = bn.runningMean, let v = bn.runningVariance else { return nil }
            return (bn, m, v)
        }
    }

    /// Copy `values` into `model`'s tensors; false when the counts differ.
    static func restore(_ model: Model, from values: [Float]) -> Bool {
        let ts = tensors(model)
        guard values.count == ts.reduce(0, { $0 + $1.count }) else { return false }
        values.withUnsafeBufferPointer { src in
            var offset = 0
            for t in ts {
                t.data.update(from: src.baseAddress! + offset, count: t.count)
                offset += t.count
            }
        }
        return true
    }
}
