import XCTest
@testable import Engine

/// Finite-difference gradient checking shared by every layer test.
///
/// The scalar checked is L = Σ y ⊙ R for a fixed random R, so ∂L/∂y = R. Analytic gradients of the
/// input and every parameter are compared with central differences at up to `samples` coordinates.
struct GradientCheck {
    var epsilon: Float = 1e-2
    var tolerance: Float = 2e-2
    var samples = 40
    var seed: UInt64 = 7

    /// Build `layer`'s parameters, run the check on an input of `shape` (batch first) and fail the
    /// test with the worst coordinate when analytic and numeric gradients disagree.
    func check(_ layer: Layer, inputShape shape: [Int], training: Bool = true,
               input values: [Float]? = nil, file: StaticString = #filePath, line: UInt = #line) {
        let ctx = ExecutionContext()
        let store = ParameterStore(layer.parameters, context: ctx)
        var rng = RandomSource(seed: seed)
        layer.initialize(using: &rng)
        // Perturb parameters away from structured initial values (e.g. BN's γ = 1, β = 0).
        for i in 0..<store.count { store.values.data[i] += 0.1 * rng.nextNormal() }
        let x = Tensor(shape: shape, context: ctx)
        if let values {
            for i in 0..<x.count { x.data[i] = values[i] }
        } else {
            for i in 0..<x.count { x.data[i] = rng.nextNormal() }
        }
        layer.needsInputGradient = true
        let y0 = layer.forward(x, training: training)
        let r = Tensor(shape: y0.shape, context: ctx)
        for i in 0..<r.count { r.data[i] = rng.nextNormal() }

        func loss() -> Double {
            let y = layer.forward(x, training: training)
            var s = 0.0
            for i in 0..<y.count { s += Double(y.data[i]) * Double(r.data[i]) }
            return s
        }

        store.zeroGradients()
        _ = layer.forward(x, training: training)
        guard let dx = layer.backward(r) else { return XCTFail("\(layer.name): no input gradient", file: file, line: line) }
        let analyticInput = dx.array
        let analyticParams = store.grads.array

        func compare(_ what: String, _ pointer: UnsafeMutablePointer<Float>, count: Int, analytic: (Int) -> Float) {
            var pick = RandomSource(seed: seed &+ 99)
            let indices = count <= samples ? Array(0..<count) : (0..<samples).map { _ in pick.nextInt(below: count) }
            for i in indices {
                let saved = pointer[i]
                pointer[i] = saved + epsilon
                let lp = loss()
                pointer[i] = saved - epsilon
                let lm = loss()
                pointer[i] = saved
                let numeric = Float((lp - lm) / Double(2 * epsilon))
                let a = analytic(i)
                let scale = max(1, abs(numeric), abs(a))
                if abs(numeric - a) > tolerance * scale {
                    XCTFail("\(layer.name) \(what)[\(i)]: analytic \(a) vs numeric \(numeric)", file: file, line: line)
                    return
                }
            }
        }
        compare("input", x.data, count: x.count) { analyticInput[$0] }
        for p in store.parameters {
            compare(p.name, p.value.data, count: p.count) { analyticParams[p.offset + $0] }
        }
    }
}
