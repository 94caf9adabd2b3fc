import Engine
import Foundation

/// Knowledge-distillation loss against a teacher's logits, averaged over rows, and its gradient
/// with respect to the student's logits (Hinton et al. 2015, Distilling the Knowledge in a Neural
/// Network).
///
/// Per row, with p^T = softmax(z/T):
/// loss = α·T²·KL(p_teacher^T ‖ p_student^T) + (1 − α)·CE(label, softmax(z_student)).
/// The soft term's gradient is α·T·(p_student^T − p_teacher^T): the T² factor undoes the 1/T² the
/// softening puts on its magnitude, so changing T does not rebalance the two terms. The gradient
/// written is of the batch mean (each row divided by `rows`), as the engine's softmax
/// cross-entropy writes it. Log-softmax is max-shifted and computed in Double.
///
///     let loss = distillationLoss(student: z, teacher: t, labels: y, rows: 32, classes: 10,
///                                 temperature: 4, alpha: 0.9, gradient: dz)
///
/// - Parameters:
///   - student, teacher: (rows, classes) logits.
///   - labels: `rows` class indices; not read when `alpha` is 1.
///   - temperature: T > 0.
///   - alpha: weight of the soft term, in [0, 1]; 0 gives plain cross-entropy.
///   - gradient: (rows, classes), overwritten with ∂loss/∂student.
public func distillationLoss(student: UnsafePointer<Float>, teacher: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
                             rows: Int, classes: Int, temperature: Float, alpha: Float,
                             gradient: UnsafeMutablePointer<Float>) -> Float {
    let t = Double(temperature)
    return distill(student: student, labels: labels, rows: rows, classes: classes, temperature: temperature,
                   alpha: alpha, gradient: gradient) { r, target, logTarget in
        logSoftmax(teacher + r * classes, count: classes, scale: 1 / t, into: logTarget)
        for c in 0..<classes { target[c] = exp(logTarget[c]) }
    }
}

/// Knowledge-distillation loss against soft targets given directly (rows of probabilities already
/// softened at `temperature`, e.g. `averagedSoftTargets` of several teachers); otherwise as the
/// logits form.
///
/// - Parameter softTargets: (rows, classes), each row non-negative and summing to 1.
public func distillationLoss(student: UnsafePointer<Float>, softTargets: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
                             rows: Int, classes: Int, temperature: Float, alpha: Float,
                             gradient: UnsafeMutablePointer<Float>) -> Float {
    distill(student: student, labels: labels, rows: rows, classes: classes, temperature: temperature,
            alpha: alpha, gradient: gradient) { r, target, logTarget in
        let row = softTargets + r * classes
        for c in 0..<classes {
            target[c] = Double(row[c])
            logTarget[c] = row[c] > 0 ? log(Double(row[c])) : -.infinity
        }
    }
}

/// The mean of several teachers' softened distributions softmax(z/T), row by row: the soft
/// targets for distilling an ensemble into one student (Hinton et al. 2015, §1).
///
/// - Parameter teachers: each (rows, classes) logits.
/// - Returns: (rows, classes) probabilities.
public func averagedSoftTargets(_ teachers: [UnsafePointer<Float>], rows: Int, classes: Int, temperature: Float) -> [Float] {
    precondition(temperature > 0 && temperature.isFinite, "temperature must be positive, got \(temperature)")
    precondition(!teachers.isEmpty, "averaging soft targets needs at least one teacher")
    var sums = [Double](repeating: 0, count: rows * classes)
    var logRow = [Double](repeating: 0, count: classes)
    for teacher in teachers {
        for r in 0..<rows {
            logSoftmax(teacher + r * classes, count: classes, scale: 1 / Double(temperature), into: &logRow)
            for c in 0..<classes { sums[r * classes + c] += exp(logRow[c]) }
        }
    }
    let share = 1 / Double(teachers.count)
    return sums.map { Float($0 * share) }
}

/// Mean squared error between a student's features and a target (feature distillation, as in
/// FitNets: Romero et al. 2015) and its gradient 2·(s − t)/count.
///
/// - Parameter gradient: `count` values, overwritten with ∂loss/∂student.
public func featureLoss(student: UnsafePointer<Float>, target: UnsafePointer<Float>, count: Int,
                        gradient: UnsafeMutablePointer<Float>) -> Float {
    guard count > 0 else { return 0 }
    var total = 0.0
    let scale = 2 / Float(count)
    for i in 0..<count {
        let d = student[i] - target[i]
        total += Double(d) * Double(d)
        gradient[i] = scale * d
    }
    return Float(total / Double(count))
}

// MARK: - Shared row loop

/// The loss and gradient for any source of soft targets: `fill(row, q, log q)` writes one row's
/// target probabilities and their logarithms (−∞ where q = 0). Rows run in parallel; their losses
/// are summed in row order so the result does not depend on the thread count.
private func distill(student: UnsafePointer<Float>, labels: UnsafePointer<Int32>, rows: Int, classes: Int,
                     temperature: Float, alpha: Float, gradient: UnsafeMutablePointer<Float>,
                     fill: (Int, UnsafeMutablePointer<Double>, UnsafeMutablePointer<Double>) -> Void) -> Float {
    precondition(temperature > 0 && temperature.isFinite, "temperature must be positive, got \(temperature)")
    precondition(alpha >= 0 && alpha <= 1, "alpha must be in [0, 1], got \(alpha)")
    guard rows > 0, classes > 0 else { return 0 }
    let t = Double(temperature), a = Double(alpha)
    let inverseRows = 1 / Double(rows)
    var rowLoss = [Double](repeating: 0, count: rows)
    rowLoss.withUnsafeMutableBufferPointer { losses in
        parallelRanges(rows, minimumPerThread: max(1, (1 << 15) / classes)) { range in
            let scratch = UnsafeMutablePointer<Double>.allocate(capacity: 4 * classes)
            defer { scratch.deallocate() }
            let q = scratch, logQ = scratch + classes, logSoft = scratch + 2 * classes, logHard = scratch + 3 * classes
            for r in range {
                let z = student + r * classes, g = gradient + r * classes
                var loss = 0.0
                for c in 0..<classes { g[c] = 0 }
                if a > 0 {
                    fill(r, q, logQ)
                    logSoftmax(z, count: classes, scale: 1 / t, into: logSoft)
                    var kl = 0.0
                    for c in 0..<classes where q[c] > 0 { kl += q[c] * (logQ[c] - logSoft[c]) }
                    loss += a * t * t * kl
                    for c in 0..<classes { g[c] = Float(a * t * (exp(logSoft[c]) - q[c]) * inverseRows) }
                }
                if a < 1 {
                    let label = Int(labels[r])
                    precondition(label >= 0 && label < classes, "label \(label) in row \(r) is outside 0..<\(classes)")
                    logSoftmax(z, count: classes, scale: 1, into: logHard)
                    loss += (1 - a) * -logHard[label]
                    for c in 0..<classes {
                        let p = exp(logHard[c]) - (c == label ? 1 : 0)
                        g[c] += Float((1 - a) * p * inverseRows)
                    }
                }
                losses[r] = loss
            }
        }
    }
    return Float(rowLoss.reduce(0, +) * inverseRows)
}

/// log softmax(scale·x) of one row, max-shifted, in Double.
private func logSoftmax(_ x: UnsafePointer<Float>, count: Int, scale: Double, into out: UnsafeMutablePointer<Double>) {
    var m = -Double.infinity
    for c in 0..<count { m = max(m, scale * Double(x[c])) }
    var sum = 0.0
    for c in 0..<count {
        out[c] = scale * Double(x[c]) - m
        sum += exp(out[c])
    }
    let logSum = log(sum)
    for c in 0..<count { out[c] -= logSum }
}
