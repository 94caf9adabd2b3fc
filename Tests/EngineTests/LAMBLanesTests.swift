import XCTest
@testable import Engine

/// LAMB's update runs eight lanes at a time; each lane must do exactly the scalar rule's IEEE
/// operations, and the norms' squares must be added in index order, so the weights come out bit for
/// bit as the one-element-at-a-time rule gives them, on tensors whose sizes leave tails past the
/// lanes and span several of the norm's blocks.
final class LAMBLanesTests: XCTestCase {
    func testVectorisedStepsEqualTheScalarRuleBitForBit() {
        let sizes = [1037, 70_001, 5]
        let ctx = ExecutionContext()
        let store = ParameterStore(sizes.enumerated().map { Parameter("p\($0.offset)", shape: [$0.element], decays: $0.offset != 1) },
                                   context: ctx)
        var rng = RandomSource(seed: 17)
        var theta = sizes.map { n in (0..<n).map { _ in rng.nextFloat() - 0.5 } }
        for (p, values) in zip(store.parameters, theta) { for (i, x) in values.enumerated() { p.value.data[i] = x } }
        var m = sizes.map { [Float](repeating: 0, count: $0) }, v = m
        let lamb = LAMB(weightDecay: 0.01)
        let (b1, b2, eps, lr) = (lamb.beta1, lamb.beta2, lamb.epsilon, Float(0.01))
        for step in 1...3 {
            let grads = sizes.map { n in (0..<n).map { _ in rng.nextFloat() - 0.5 } }
            for (p, g) in zip(store.parameters, grads) {
                for (i, x) in g.enumerated() { p.grad.data[i] = x }
            }
            lamb.step(store, learningRate: lr)
            // The rule one element at a time, as written before it was vectorised.
            let c1 = Float(1 - pow(Double(b1), Double(step))), c2 = Float(1 - pow(Double(b2), Double(step)))
            for t in sizes.indices {
                let decay: Float = t != 1 ? lamb.weightDecay : 0
                func direction(_ i: Int) -> Float { (m[t][i] / c1) / ((v[t][i] / c2).squareRoot() + eps) + decay * theta[t][i] }
                var squares = SIMD2<Double>.zero
                var blockSum = SIMD2<Double>.zero
                for i in 0..<sizes[t] {
                    let gi = grads[t][i]
                    m[t][i] = b1 * m[t][i] + (1 - b1) * gi
                    v[t][i] = b2 * v[t][i] + (1 - b2) * gi * gi
                    let ri = Double(direction(i)), ti = Double(theta[t][i])
                    blockSum += SIMD2(ti * ti, ri * ri)
                    if (i + 1) % sumBlockSize == 0 || i + 1 == sizes[t] { squares += blockSum; blockSum = .zero }
                }
                let wn = squares.x.squareRoot(), un = squares.y.squareRoot()
                let ratio = wn > 0 && un > 0 ? Float(min(wn / un, Double(lamb.maxTrustRatio))) : 1
                for i in 0..<sizes[t] { theta[t][i] -= lr * ratio * direction(i) }
                XCTAssertEqual(lamb.lastTrustRatios[t], ratio, "step \(step), tensor \(t): trust ratio")
                let got = (0..<sizes[t]).map { store.parameters[t].value.data[$0].bitPattern }
                XCTAssertEqual(got, theta[t].map(\.bitPattern), "step \(step), tensor \(t): weights")
            }
        }
    }
}
