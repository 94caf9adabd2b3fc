import Engine

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
    /// The projection P (teacher, student) as a bias-free Linear, stepped by the engine's Adam.
    private let projection: Linear
    private let store: ParameterStore
    private let optimizer = AdamW.adam()
    private let learningRate: Float = 1e-3

    init(tap: FeatureTap, studentWidth: Int, teacherWidth: Int, weight: Float, seed: UInt64) {
        self.tap = tap; self.weight = weight; self.studentWidth = studentWidth; self.teacherWidth = teacherWidth
        projection = Linear("feature_projection", studentWidth, teacherWidth, bias: false)
        store = ParameterStore(projection.parameters, context: ExecutionContext())
        var rng = RandomSource.derived(seed: seed, stream: 0xFEA7)
        projection.initialize(using: &rng)
    }

    /// weight·MSE(h_s·Pᵀ, h_t) for the tap's features against `target` (rows × teacher width);
    /// stores ∂/∂h_s in the tap for its backward and takes one Adam step on P.
    func loss(target: UnsafePointer<Float>, rows: Int) -> Float {
        guard let h = tap.features, h.count == rows * studentWidth else { return 0 }
        // The projection runs in its own context on a copy of the features.
        let x = Tensor(h.array, shape: [rows, studentWidth], context: store.values.context)
        let projected = projection.forward(x, training: true)
        let g = Tensor(shape: projected.shape, context: x.context)
        let value = featureLoss(student: projected.data, target: target, count: rows * teacherWidth, gradient: g.data)
        for i in 0..<g.count { g.data[i] *= weight }
        store.zeroGradients()
        projection.needsInputGradient = true
        guard let dh = projection.backward(g) else { return weight * value }
        tap.pendingGradient = dh.array
        optimizer.step(store, learningRate: learningRate)
        return weight * value
    }
}
