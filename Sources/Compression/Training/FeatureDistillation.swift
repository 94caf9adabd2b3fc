import CBLAS
import Engine
import Foundation

/// Wraps a model's classifier: remembers its input (the model's last hidden features) and adds a
/// gradient to that input in backward — how feature distillation reaches the student's body.
public final class FeatureTap: Layer {
    public let inner: Layer
    /// The classifier's input of the last forward.
    public private(set) var features: Tensor?
    /// Added to the input gradient by the next backward (then cleared).
    var pendingGradient: [Float]?

    public init(_ inner: Layer) { self.inner = inner }

    public var name: String { inner.name }
    public var parameters: [Parameter] { inner.parameters }
    public var needsInputGradient: Bool {
        get { inner.needsInputGradient }
        set { inner.needsInputGradient = newValue }
    }
    public func outputShape(for input: [Int]) throws -> [Int] { try inner.outputShape(for: input) }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        features = x
        return inner.forward(x, training: training)
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        let dx = inner.backward(dy)
        defer { pendingGradient = nil }
        guard let dx, let g = pendingGradient, g.count == dx.count, !dx.context.isMeta else { return dx }
        let p = dx.data
        for i in 0..<g.count { p[i] += g[i] }
        return dx
    }
}

/// Feature distillation (Romero et al. 2015, FitNets): the student's last hidden features,
/// mapped by a learned linear projection to the teacher's width, are pulled towards the
/// teacher's by weight·MSE. The projection trains with its own Adam.
final class FeatureMatch {
    let tap: FeatureTap
    let weight: Float
    let studentWidth: Int, teacherWidth: Int
    private var projection: [Float]            // (teacher, student)
    private var m: [Float], v: [Float], t = 0
    private let learningRate: Float = 1e-3

    init(tap: FeatureTap, studentWidth: Int, teacherWidth: Int, weight: Float, seed: UInt64) {
        self.tap = tap; self.weight = weight; self.studentWidth = studentWidth; self.teacherWidth = teacherWidth
        var rng = RandomSource.derived(seed: seed, stream: 0xFEA7)
        let bound = 1 / Float(studentWidth).squareRoot()
        projection = (0..<teacherWidth * studentWidth).map { _ in (2 * rng.nextFloat() - 1) * bound }
        m = Array(repeating: 0, count: projection.count); v = m
    }

    /// weight·MSE(h_s·Pᵀ, h_t) for the tap's features against `target` (rows × teacher width);
    /// stores ∂/∂h_s in the tap for its backward and takes one Adam step on P.
    func loss(target: UnsafePointer<Float>, rows: Int) -> Float {
        guard let h = tap.features, h.count == rows * studentWidth else { return 0 }
        var projected = [Float](repeating: 0, count: rows * teacherWidth)
        var g = [Float](repeating: 0, count: rows * teacherWidth)
        var dh = [Float](repeating: 0, count: rows * studentWidth)
        var dP = [Float](repeating: 0, count: projection.count)
        let rowsI = Int32(rows), s = Int32(studentWidth), tw = Int32(teacherWidth)
        // projected (rows, t) = h (rows, s) · Pᵀ
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rowsI, tw, s, 1, h.data, s, projection, s, 0, &projected, tw)
        let value = projected.withUnsafeBufferPointer { featureLoss(student: $0.baseAddress!, target: target, count: rows * teacherWidth, gradient: &g) }
        // dh (rows, s) = w·g (rows, t) · P (t, s);  dP (t, s) = w·gᵀ · h
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rowsI, s, tw, weight, g, tw, projection, s, 0, &dh, s)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, tw, s, rowsI, weight, g, tw, h.data, s, 0, &dP, s)
        tap.pendingGradient = dh
        t += 1
        let b1: Float = 0.9, b2: Float = 0.999
        let c1 = 1 - powf(b1, Float(t)), c2 = 1 - powf(b2, Float(t))
        for i in 0..<projection.count {
            m[i] = b1 * m[i] + (1 - b1) * dP[i]
            v[i] = b2 * v[i] + (1 - b2) * dP[i] * dP[i]
            projection[i] -= learningRate * (m[i] / c1) / ((v[i] / c2).squareRoot() + 1e-8)
        }
        return weight * value
    }
}
