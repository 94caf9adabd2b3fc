import Foundation

/// Softmax followed by cross-entropy against integer labels, averaged over rows.
///
/// Logits are (rows, classes); for a language model rows are batch·tokens. The gradient
/// (softmax − one-hot) / rows is formed in the same pass.
public final class SoftmaxCrossEntropy {
    public let context: ExecutionContext
    private var gradient: Tensor?

    public init(context: ExecutionContext) { self.context = context }

    /// Loss value, the number of rows whose arg-max equals the label, and ∂loss/∂logits.
    public struct Result {
        public var loss: Float
        public var correct: Int
        public var gradient: Tensor

        public init(loss: Float, correct: Int, gradient: Tensor) { self.loss = loss; self.correct = correct; self.gradient = gradient }
    }

    /// - Parameters:
    ///   - logits: (rows, classes).
    ///   - labels: `rows` class indices.
    ///   - computeGradient: skip the gradient for evaluation.
    public func callAsFunction(_ logits: Tensor, labels: UnsafePointer<Int32>, computeGradient: Bool = true) -> Result {
        let classes = logits.shape.last ?? 1
        let rows = logits.count / classes
        let g = context.buffer(gradient, [rows, classes]); gradient = g
        context.record("softmax_cross_entropy", .loss, flops: 5 * Double(logits.count),
                       read: Double(logits.count), written: computeGradient ? Double(logits.count) : 0)
        guard !context.isMeta else { return Result(loss: 0, correct: 0, gradient: g) }
        let z = logits.data, dz = g.data
        var total = 0.0
        var correct = 0
        let scale = 1 / Float(rows)
        for r in 0..<rows {
            let row = z + r * classes
            var m = row[0], arg = 0
            for c in 1..<max(classes, 1) where row[c] > m { m = row[c]; arg = c }
            var sum: Float = 0
            for c in 0..<classes { sum += Foundation.exp(row[c] - m) }
            let label = Int(labels[r])
            let logSum = Foundation.log(sum) + m
            total += Double(logSum - row[label])
            if arg == label { correct += 1 }
            if computeGradient {
                let grow = dz + r * classes
                let inv = 1 / sum
                for c in 0..<classes { grow[c] = Foundation.exp(row[c] - m) * inv * scale }
                grow[label] -= scale
            }
        }
        return Result(loss: Float(total / Double(max(rows, 1))), correct: correct, gradient: g)
    }
}
