import Foundation
import XCTest
import Engine
@testable import Compression

final class DistillationLossTests: XCTestCase {
    private let rows = 3, classes = 5

    private func logits(seed: UInt64, scale: Float = 1.5) -> [Float] {
        var rng = RandomSource(seed: seed)
        return (0..<(rows * classes)).map { _ in scale * rng.nextNormal() }
    }

    private let labels: [Int32] = [2, 0, 4]

    /// Loss and gradient of the logits form.
    private func loss(_ student: [Float], _ teacher: [Float], temperature: Float, alpha: Float) -> (Float, [Float]) {
        var gradient = [Float](repeating: .nan, count: student.count)
        let value = gradient.withUnsafeMutableBufferPointer { g in
            distillationLoss(student: student, teacher: teacher, labels: labels, rows: rows, classes: classes,
                             temperature: temperature, alpha: alpha, gradient: g.baseAddress!)
        }
        return (value, gradient)
    }

    /// Loss and gradient of the soft-target form.
    private func loss(_ student: [Float], softTargets: [Float], temperature: Float, alpha: Float) -> (Float, [Float]) {
        var gradient = [Float](repeating: .nan, count: student.count)
        let value = gradient.withUnsafeMutableBufferPointer { g in
            distillationLoss(student: student, softTargets: softTargets, labels: labels, rows: rows, classes: classes,
                             temperature: temperature, alpha: alpha, gradient: g.baseAddress!)
        }
        return (value, gradient)
    }

    /// softmax(z/T) of one row, in Double, without shifting (the test logits are small).
    private func softmax(_ z: ArraySlice<Float>, _ t: Double) -> [Double] {
        let e = z.map { exp(Double($0) / t) }
        let sum = e.reduce(0, +)
        return e.map { $0 / sum }
    }

    /// The batch-mean loss written straight from Hinton et al.'s definition.
    private func reference(_ student: [Float], _ teacher: [Float], temperature t: Double, alpha a: Double) -> Double {
        var total = 0.0
        for r in 0..<rows {
            let range = (r * classes)..<((r + 1) * classes)
            let q = softmax(teacher[range], t), p = softmax(student[range], t), p1 = softmax(student[range], 1)
            let kl = zip(q, p).reduce(0) { $0 + $1.0 * log($1.0 / $1.1) }
            total += a * t * t * kl - (1 - a) * log(p1[Int(labels[r])])
        }
        return total / Double(rows)
    }

    /// Central differences of `f` at every coordinate of `x`, over the step actually taken in Float.
    private func numericGradient(_ x: [Float], step: Float = 4e-3, _ f: ([Float]) -> Float) -> [Double] {
        (0..<x.count).map { i in
            var plus = x, minus = x
            plus[i] += step
            minus[i] -= step
            return (Double(f(plus)) - Double(f(minus))) / (Double(plus[i]) - Double(minus[i]))
        }
    }

    func testLossMatchesTheDefinition() {
        let s = logits(seed: 1), t = logits(seed: 2)
        for (temperature, alpha) in [(Float(1), Float(0)), (1, 1), (2, 0.5), (4, 0.9), (10, 0.3)] {
            let value = loss(s, t, temperature: temperature, alpha: alpha).0
            XCTAssertEqual(Double(value), reference(s, t, temperature: Double(temperature), alpha: Double(alpha)),
                           accuracy: 1e-5, "T = \(temperature), α = \(alpha)")
        }
    }

    func testGradientMatchesFiniteDifferences() {
        let s = logits(seed: 3), t = logits(seed: 4)
        for (temperature, alpha) in [(Float(1), Float(0)), (1, 1), (2, 0.5), (4, 0.9), (10, 1), (0.5, 0.3)] {
            let analytic = loss(s, t, temperature: temperature, alpha: alpha).1
            let numeric = numericGradient(s) { loss($0, t, temperature: temperature, alpha: alpha).0 }
            for i in 0..<s.count {
                XCTAssertEqual(Double(analytic[i]), numeric[i], accuracy: 1e-3, "T = \(temperature), α = \(alpha), logit \(i)")
            }
        }
    }

    func testAlphaZeroIsTheEnginesCrossEntropy() {
        let s = logits(seed: 5), t = logits(seed: 6)
        let (value, gradient) = loss(s, t, temperature: 3, alpha: 0)
        let ctx = ExecutionContext()
        let result = SoftmaxCrossEntropy(context: ctx)(Tensor(s, shape: [rows, classes], context: ctx), labels: labels)
        XCTAssertEqual(value, result.loss, accuracy: 1e-5)
        for i in 0..<s.count { XCTAssertEqual(gradient[i], result.gradient.data[i], accuracy: 1e-6) }
    }

    func testKLVanishesWhenStudentEqualsTeacher() {
        let z = logits(seed: 7)
        for temperature: Float in [1, 2, 8] {
            let (value, gradient) = loss(z, z, temperature: temperature, alpha: 1)
            XCTAssertEqual(value, 0)
            XCTAssertEqual(gradient, [Float](repeating: 0, count: z.count))
        }
        // Half weight on the soft term leaves half the cross-entropy.
        let hard = loss(z, z, temperature: 2, alpha: 0).0
        XCTAssertEqual(loss(z, z, temperature: 2, alpha: 0.5).0, 0.5 * hard, accuracy: 1e-6)
    }

    func testLossIsNeverNegative() {
        for seed in 0..<20 {
            let s = logits(seed: 100 + UInt64(seed), scale: 4), t = logits(seed: 200 + UInt64(seed), scale: 4)
            for alpha: Float in [0, 0.5, 1] {
                XCTAssertGreaterThanOrEqual(loss(s, t, temperature: 3, alpha: alpha).0, 0)
            }
        }
    }

    /// Hinton et al.: soft-target gradients scale as 1/T², so multiplying by T² keeps them
    /// comparable across temperatures. For zero-mean logits and large T the soft gradient tends to
    /// (z_student − z_teacher) / (classes · rows).
    func testTemperatureSquaredKeepsTheSoftGradientComparable() {
        func centred(_ z: [Float]) -> [Float] {
            var out = z
            for r in 0..<rows {
                let mean = z[(r * classes)..<((r + 1) * classes)].reduce(0, +) / Float(classes)
                for c in 0..<classes { out[r * classes + c] -= mean }
            }
            return out
        }
        let s = centred(logits(seed: 8)), t = centred(logits(seed: 9))
        func norm(_ g: [Float]) -> Double { g.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() }
        let limit = zip(s, t).map { ($0 - $1) / Float(classes * rows) }
        let norms = [10, 20, 40, 80].map { (temperature: Float) in norm(loss(s, t, temperature: temperature, alpha: 1).1) }
        for n in norms { XCTAssertEqual(n / norm(limit), 1, accuracy: 0.1) }
        let far = loss(s, t, temperature: 200, alpha: 1).1
        for i in 0..<s.count { XCTAssertEqual(far[i], limit[i], accuracy: 0.02 * Float(norm(limit))) }
        // Without the T² factor the same gradient would shrink 64-fold from T = 10 to T = 80.
        XCTAssertEqual(norms[0] / 100 / (norms[3] / 6400), 64, accuracy: 7)
    }

    func testSoftTargetsOfOneTeacherMatchTheLogitsForm() {
        let s = logits(seed: 10), t = logits(seed: 11)
        let targets = t.withUnsafeBufferPointer {
            averagedSoftTargets([$0.baseAddress!], rows: rows, classes: classes, temperature: 3)
        }
        let direct = loss(s, t, temperature: 3, alpha: 0.7)
        let soft = loss(s, softTargets: targets, temperature: 3, alpha: 0.7)
        XCTAssertEqual(soft.0, direct.0, accuracy: 1e-5)
        for i in 0..<s.count { XCTAssertEqual(soft.1[i], direct.1[i], accuracy: 1e-6) }
    }

    func testAveragedSoftTargetsOfSeveralTeachers() {
        let a = logits(seed: 12), b = logits(seed: 13), s = logits(seed: 14)
        let targets = a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                averagedSoftTargets([pa.baseAddress!, pb.baseAddress!], rows: rows, classes: classes, temperature: 2)
            }
        }
        for r in 0..<rows {
            let range = (r * classes)..<((r + 1) * classes)
            let qa = softmax(a[range], 2), qb = softmax(b[range], 2)
            for c in 0..<classes { XCTAssertEqual(Double(targets[r * classes + c]), (qa[c] + qb[c]) / 2, accuracy: 1e-6) }
            XCTAssertEqual(targets[range].reduce(0, +), 1, accuracy: 1e-5)
        }
        let analytic = loss(s, softTargets: targets, temperature: 2, alpha: 0.6).1
        let numeric = numericGradient(s) { loss($0, softTargets: targets, temperature: 2, alpha: 0.6).0 }
        for i in 0..<s.count { XCTAssertEqual(Double(analytic[i]), numeric[i], accuracy: 1e-3, "logit \(i)") }
    }

    func testFeatureLoss() {
        let student: [Float] = [1, 2, 3], target: [Float] = [0, 2, 5]
        var gradient = [Float](repeating: .nan, count: 3)
        let value = gradient.withUnsafeMutableBufferPointer {
            featureLoss(student: student, target: target, count: 3, gradient: $0.baseAddress!)
        }
        XCTAssertEqual(value, 5.0 / 3, accuracy: 1e-6)                  // (1 + 0 + 4) / 3
        XCTAssertEqual(gradient[0], 2.0 / 3, accuracy: 1e-6)
        XCTAssertEqual(gradient[1], 0)
        XCTAssertEqual(gradient[2], -4.0 / 3, accuracy: 1e-6)
    }
}
