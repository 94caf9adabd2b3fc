import Foundation
import XCTest
@testable import Engine

/// A store of two parameters — `w` (2×2, decays) at offset 0 and `b` (3, no decay) at offset 16 —
/// with three steps of fixed gradients, and the same numbers in Double for the references.
private struct Fixture {
    static let initial: [[Double]] = [[0.5, -1, 2, 0.25], [0.1, -0.2, 0.3]]
    static let gradients: [[[Double]]] = [                 // [step][parameter][element]
        [[0.1, -0.2, 0.3, -0.4], [0.5, -0.1, 0.2]],
        [[0.05, 0.1, -0.3, 0.2], [0.3, 0.2, -0.1]],
        [[-0.2, 0.15, 0.1, 0.3], [-0.4, 0.1, 0.25]],
    ]
    static let decays = [true, false]

    let ctx: ExecutionContext
    let store: ParameterStore

    init(mode: ExecutionContext.Mode = .real, initial: [[Double]] = Fixture.initial) {
        ctx = ExecutionContext(mode: mode)
        store = ParameterStore([Parameter("w", shape: [2, 2], decays: true), Parameter("b", shape: [3], decays: false)],
                               context: ctx)
        guard mode == .real else { return }
        for (p, values) in zip(store.parameters, initial) {
            for (i, v) in values.enumerated() { p.value.data[i] = Float(v) }
        }
    }

    /// For each step from `first` (0-based), load its gradients and run `body` (one optimizer step).
    func run(steps: Int, from first: Int = 0, _ body: () -> Void) {
        for t in first..<first + steps {
            for (p, g) in zip(store.parameters, Fixture.gradients[t]) {
                for (i, v) in g.enumerated() { p.grad.data[i] = Float(v) }
            }
            body()
        }
    }

    /// Every value matches `expected` and the padding between parameters is still zero.
    func assertValues(_ expected: [[Double]], accuracy: Double = 2e-6, file: StaticString = #filePath, line: UInt = #line) {
        for (p, want) in zip(store.parameters, expected) {
            for (i, w) in want.enumerated() {
                XCTAssertEqual(Double(p.value.data[i]), w, accuracy: accuracy, "\(p.name)[\(i)]", file: file, line: line)
            }
        }
        let padding = Array(store.values.array[4..<16]) + Array(store.values.array[19..<32])
        XCTAssertEqual(padding, [Float](repeating: 0, count: padding.count), "padding written", file: file, line: line)
    }
}

/// PyTorch's SGD algorithm, in Double.
private func referenceSGD(steps: Int, lr: Double, momentum: Double, nesterov: Bool, weightDecay: Double) -> [[Double]] {
    var theta = Fixture.initial
    var buffer = theta.map { $0.map { _ in 0.0 } }
    for t in 0..<steps {
        for p in 0..<2 {
            for i in theta[p].indices {
                var g = Fixture.gradients[t][p][i] + (Fixture.decays[p] ? weightDecay * theta[p][i] : 0)
                if momentum > 0 {
                    buffer[p][i] = t == 0 ? g : momentum * buffer[p][i] + g
                    g = nesterov ? g + momentum * buffer[p][i] : buffer[p][i]
                }
                theta[p][i] -= lr * g
            }
        }
    }
    return theta
}

/// Adam's moments with bias correction (Kingma & Ba 2015), shared by the AdamW and LAMB references:
/// updates m and v in place and returns m̂/(√v̂ + ε) for step t (1-based).
private func adamDirection(_ g: Double, _ m: inout Double, _ v: inout Double, t: Int,
                           beta1: Double, beta2: Double, eps: Double) -> Double {
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    let mHat = m / (1 - pow(beta1, Double(t))), vHat = v / (1 - pow(beta2, Double(t)))
    return mHat / (vHat.squareRoot() + eps)
}

/// AdamW as Loshchilov & Hutter 2019 write it (decay decoupled, scaled by the rate), in Double.
private func referenceAdamW(steps: Int, lr: Double, weightDecay: Double) -> [[Double]] {
    var theta = Fixture.initial
    var m = theta.map { $0.map { _ in 0.0 } }, v = m
    for t in 0..<steps {
        for p in 0..<2 {
            for i in theta[p].indices {
                if Fixture.decays[p] { theta[p][i] -= lr * weightDecay * theta[p][i] }
                theta[p][i] -= lr * adamDirection(Fixture.gradients[t][p][i], &m[p][i], &v[p][i], t: t + 1,
                                                  beta1: 0.9, beta2: 0.999, eps: 1e-8)
            }
        }
    }
    return theta
}

/// LAMB, You et al. 2019 Algorithm 2, ratio ‖θ‖/‖r‖ clipped to maxTrust (1 on a zero norm), in Double.
private func referenceLAMB(steps: Int, lr: Double, weightDecay: Double, maxTrust: Double,
                           initial: [[Double]] = Fixture.initial) -> (theta: [[Double]], ratios: [Double]) {
    var theta = initial
    var m = theta.map { $0.map { _ in 0.0 } }, v = m
    var ratios = [1.0, 1.0]
    for t in 0..<steps {
        for p in 0..<2 {
            let r = theta[p].indices.map { i in
                adamDirection(Fixture.gradients[t][p][i], &m[p][i], &v[p][i], t: t + 1, beta1: 0.9, beta2: 0.999, eps: 1e-6)
                    + (Fixture.decays[p] ? weightDecay * theta[p][i] : 0)
            }
            let wNorm = theta[p].map { $0 * $0 }.reduce(0, +).squareRoot(), rNorm = r.map { $0 * $0 }.reduce(0, +).squareRoot()
            ratios[p] = wNorm > 0 && rNorm > 0 ? min(wNorm / rNorm, maxTrust) : 1
            for i in theta[p].indices { theta[p][i] -= lr * ratios[p] * r[i] }
        }
    }
    return (theta, ratios)
}

final class OptimizerTests: XCTestCase {
    // MARK: SGD

    func testSGDPlainByHand() {
        let f = Fixture(), sgd = SGD()
        f.run(steps: 1) { sgd.step(f.store, learningRate: 0.1) }
        f.assertValues([[0.49, -0.98, 1.97, 0.29], [0.05, -0.19, 0.28]])
        f.run(steps: 3) { sgd.step(f.store, learningRate: 0.1) }
        XCTAssertEqual(sgd.stepCount, 4)
        XCTAssertEqual(sgd.stateBytesPerParameter, 0)
        XCTAssertNil(sgd.buffer)
    }

    func testSGDMomentumNesterovAndWeightDecay() {
        // By hand, w[0] with μ = 0.9: b₁ = 0.1, θ₁ = 0.5 − 0.01 = 0.49; b₂ = 0.09 + 0.05 = 0.14, θ₂ = 0.476.
        let f = Fixture(), sgd = SGD(momentum: 0.9)
        f.run(steps: 2) { sgd.step(f.store, learningRate: 0.1) }
        XCTAssertEqual(f.store.parameters[0].value.data[0], 0.476, accuracy: 1e-6)
        XCTAssertEqual(sgd.stateBytesPerParameter, 4)

        for (momentum, nesterov, decay) in [(0.9, false, 0.0), (0.9, true, 0.0), (0.0, false, 0.1), (0.8, true, 0.05)] {
            let f = Fixture(), sgd = SGD(momentum: Float(momentum), nesterov: nesterov, weightDecay: Float(decay))
            f.run(steps: 3) { sgd.step(f.store, learningRate: 0.1) }
            f.assertValues(referenceSGD(steps: 3, lr: 0.1, momentum: momentum, nesterov: nesterov, weightDecay: decay))
        }
    }

    // MARK: AdamW and Adam

    func testAdamWMatchesPaperEquations() {
        let f = Fixture(), adamw = AdamW(weightDecay: 0.1)
        f.run(steps: 3) { adamw.step(f.store, learningRate: 0.01) }
        f.assertValues(referenceAdamW(steps: 3, lr: 0.01, weightDecay: 0.1))
        XCTAssertEqual(adamw.stepCount, 3)
        XCTAssertEqual(adamw.stateBytesPerParameter, 8)
        // The moments are laid out like the store: padding stays zero.
        XCTAssertEqual(adamw.state?.m.array[4..<16].allSatisfy { $0 == 0 }, true)
    }

    func testAdamFirstStepIsSignOfGradient() {
        // Bias correction makes step 1 move every element by lr·g/(|g| + ε) ≈ lr·sign(g).
        let f = Fixture(), adam = AdamW.adam()
        XCTAssertEqual(adam.weightDecay, 0)
        f.run(steps: 1) { adam.step(f.store, learningRate: 0.01) }
        f.assertValues(zip(Fixture.initial, Fixture.gradients[0]).map { zip($0, $1).map { $0 - 0.01 * ($1 > 0 ? 1 : -1) } })
        f.run(steps: 2, from: 1) { adam.step(f.store, learningRate: 0.01) }
        f.assertValues(referenceAdamW(steps: 3, lr: 0.01, weightDecay: 0))
    }

    func testSteppingThatZeroesGradientsMatchesStepThenZero() {
        // 37 and 20 elements: vectors of eight and tails. AdamW zeroes in its own pass, SGD by
        // the default (step, then zeroGradients); both must give the weights, moments and trace
        // of a step followed by zeroGradients, and leave every gradient zero.
        func run(_ make: () -> Optimizer, fused: Bool) -> (values: [Float], grads: [Float], trace: TraceSummary) {
            let ctx = ExecutionContext()
            let store = ParameterStore([Parameter("w", shape: [37], decays: true), Parameter("b", shape: [20], decays: false)],
                                       context: ctx)
            var rng = RandomSource(seed: 4)
            for i in 0..<store.count { store.values.data[i] = rng.nextNormal() }
            let optimizer = make()
            for _ in 0..<3 {
                for p in store.parameters { for i in 0..<p.count { p.grad.data[i] = rng.nextNormal() } }
                if fused {
                    optimizer.stepZeroingGradients(store, learningRate: 0.01)
                } else {
                    optimizer.step(store, learningRate: 0.01)
                    store.zeroGradients()
                }
            }
            return (store.values.array, store.grads.array, ctx.summary)
        }
        for make in [{ AdamW(weightDecay: 0.1) as Optimizer }, { SGD(momentum: 0.9) as Optimizer }] {
            let fused = run(make, fused: true), separate = run(make, fused: false)
            XCTAssertEqual(fused.values.map(\.bitPattern), separate.values.map(\.bitPattern))
            XCTAssertEqual(fused.grads, [Float](repeating: 0, count: fused.grads.count))
            XCTAssertEqual(fused.trace.flops, separate.trace.flops)
            XCTAssertEqual(fused.trace.byKind, separate.trace.byKind)
        }
    }

    // MARK: LAMB

    func testLAMBMatchesPaperWithTrustRatioPerTensor() {
        let f = Fixture(), lamb = LAMB(weightDecay: 0.01)
        f.run(steps: 3) { lamb.step(f.store, learningRate: 0.01) }
        let (theta, ratios) = referenceLAMB(steps: 3, lr: 0.01, weightDecay: 0.01, maxTrust: 10)
        f.assertValues(theta)
        for (got, want) in zip(lamb.lastTrustRatios, ratios) { XCTAssertEqual(Double(got), want, accuracy: 1e-5) }
        XCTAssertNotEqual(ratios[0], ratios[1], accuracy: 0.1, "the two tensors get their own ratio")
    }

    func testLAMBClipsTrustRatioAndUsesOneOnZeroNorm() {
        // ‖w‖ ≈ 2.3 against ‖r‖ ≈ 2 → ratio ≈ 1.15, clipped to 1; b starts at 0 → ‖θ‖ = 0 → ratio 1.
        let initial = [Fixture.initial[0], [0, 0, 0]]
        let f = Fixture(initial: initial), lamb = LAMB(weightDecay: 0.01, maxTrustRatio: 1)
        f.run(steps: 1) { lamb.step(f.store, learningRate: 0.01) }
        let (theta, ratios) = referenceLAMB(steps: 1, lr: 0.01, weightDecay: 0.01, maxTrust: 1, initial: initial)
        XCTAssertEqual(ratios, [1, 1])
        XCTAssertEqual(lamb.lastTrustRatios, [1, 1])
        f.assertValues(theta)
        let unclipped = referenceLAMB(steps: 1, lr: 0.01, weightDecay: 0.01, maxTrust: 10, initial: initial)
        XCTAssertGreaterThan(unclipped.ratios[0], 1.1, "the clip really bit")
    }

    // MARK: Meta mode

    func testMetaModeRecordsFLOPsAndAllocatesStateShapesOnly() {
        let n = 7.0, decaying = 4.0
        let cases: [(Optimizer, Double, Int)] = [       // optimizer, FLOPs per step, state tensors
            (SGD(), 2 * n, 0), (SGD(momentum: 0.9, nesterov: true, weightDecay: 0.1), 6 * n + 2 * decaying, 1),
            (AdamW(), 13 * n + decaying, 2), (LAMB(), 23 * n + 4 * decaying, 2),
        ]
        for (optimizer, flops, tensors) in cases {
            let f = Fixture(mode: .meta)
            f.ctx.phase = .optimizer
            let before = f.ctx.summary
            optimizer.step(f.store, learningRate: 0.1)
            optimizer.step(f.store, learningRate: 0.1)
            let name = "\(type(of: optimizer))"
            XCTAssertEqual(f.ctx.summary.flops(OpKind.optimizer), 2 * flops, name)
            XCTAssertEqual(f.ctx.summary.flops(Phase.optimizer), 2 * flops, name)
            XCTAssertEqual(f.ctx.summary.allocations - before.allocations, tensors, "\(name): allocated once, lazily")
            XCTAssertEqual(f.ctx.liveBytes, Double(2 + tensors) * 32 * 4, name)
            XCTAssertEqual(optimizer.stepCount, 2)
        }
        let f = Fixture(mode: .meta), adamw = AdamW()
        adamw.step(f.store, learningRate: 0.1)
        XCTAssertEqual(adamw.state?.m.shape, [32])
        XCTAssertEqual(adamw.state?.m.array, [], "meta state has no storage")
    }

    // MARK: Schedules

    func testScheduleWarmupCosineAndStep() {
        let warm = LearningRateSchedule(.constant, warmupSteps: 4)
        XCTAssertEqual((0..<6).map { warm.rate(atStep: $0, totalSteps: 100, base: 1) }, [0.25, 0.5, 0.75, 1, 1, 1])

        let cosine = LearningRateSchedule(.cosine(minimum: 0.1), warmupSteps: 100)
        XCTAssertEqual(cosine.rate(atStep: 100, totalSteps: 1100, base: 1), 1)
        XCTAssertEqual(cosine.rate(atStep: 600, totalSteps: 1100, base: 1), 0.55, accuracy: 1e-6, "midpoint")
        XCTAssertEqual(cosine.rate(atStep: 1100, totalSteps: 1100, base: 1), 0.1, accuracy: 1e-6)
        XCTAssertEqual(cosine.rate(atStep: 5000, totalSteps: 1100, base: 1), 0.1, accuracy: 1e-6, "held after the end")
        XCTAssertEqual(cosine.rate(atStep: 49, totalSteps: 1100, base: 1), 0.5)

        let step = LearningRateSchedule(.step(stepSize: 10, gamma: 0.1), warmupSteps: 5)
        let rates = [14, 15, 24, 25, 40].map { step.rate(atStep: $0, totalSteps: 100, base: 2) }
        for (rate, want) in zip(rates, [Float(2), 0.2, 0.2, 0.02, 0.002]) { XCTAssertEqual(rate, want, accuracy: 1e-7) }
    }

    func testScheduleJSON() throws {
        let cosine = try decode(LearningRateSchedule.self, #"{"name": "cosine", "warmup_steps": 100, "min_lr": 0}"#)
        XCTAssertEqual(cosine, LearningRateSchedule(.cosine(minimum: 0), warmupSteps: 100))
        let step = try decode(LearningRateSchedule.self, #"{"name": "step", "step_size": 1000, "gamma": 0.1}"#)
        XCTAssertEqual(step, LearningRateSchedule(.step(stepSize: 1000, gamma: 0.1)))
        XCTAssertEqual(try decode(LearningRateSchedule.self, #"{"name": "constant"}"#), LearningRateSchedule())
        for schedule in [cosine, step] {
            XCTAssertEqual(try JSONDecoder().decode(LearningRateSchedule.self, from: JSONEncoder().encode(schedule)), schedule)
        }
        assertConfigError(#"{"name": "cosin"}"#, as: LearningRateSchedule.self,
                          "schedule.name: unknown schedule 'cosin' (valid: constant, step, cosine). Did you mean 'cosine'?")
        assertConfigError(#"{"name": "step"}"#, as: LearningRateSchedule.self, "schedule.step_size: required by the step schedule")
        assertConfigError(#"{"name": "step", "step_size": 0}"#, as: LearningRateSchedule.self, "schedule.step_size: must be positive, got 0")
        assertConfigError(#"{"name": "constant", "min_lr": 0}"#, as: LearningRateSchedule.self,
                          "schedule.min_lr: not an option of the constant schedule (its options: name, warmup_steps)")
    }

    // MARK: Clipping and finiteness

    func testClippingScalesToMaxNormAndLeavesSmallGradientsAlone() {
        let f = Fixture()
        func load() {
            for (i, v) in [Float(3), 4, 0, 0].enumerated() { f.store.parameters[0].grad.data[i] = v }
            for (i, v) in [Float(0), 0, 12].enumerated() { f.store.parameters[1].grad.data[i] = v }
        }
        load()
        XCTAssertEqual(clipGradientNorm(f.store, maxNorm: 20), 13)
        XCTAssertEqual(f.store.grads.array[0..<4], [3, 4, 0, 0], "below maxNorm: untouched")
        XCTAssertEqual(clipGradientNorm(f.store, maxNorm: 6.5), 13)
        let after = f.store.grads.array.map { Double($0) * Double($0) }.reduce(0, +).squareRoot()
        XCTAssertEqual(after, 6.5, accuracy: 1e-6)
        XCTAssertEqual(f.store.grads.array[0..<4], [1.5, 2, 0, 0])
        XCTAssertEqual(f.ctx.summary.flops(OpKind.optimizer), 2 * 7 + 2 * 7 + 7)
    }

    func testLargeNormIsIndependentOfThreadCount() {
        let ctx = ExecutionContext()
        let store = ParameterStore([Parameter("big", shape: [100_003], decays: true)], context: ctx)
        var rng = RandomSource(seed: 11)
        for i in 0..<100_003 { store.grads.data[i] = rng.nextNormal() }
        let saved = EngineThreads.count
        defer { EngineThreads.set(saved) }
        EngineThreads.set(1)
        let one = clipGradientNorm(store, maxNorm: 1e9)
        EngineThreads.set(2)
        XCTAssertEqual(clipGradientNorm(store, maxNorm: 1e9), one, "bit for bit")
        let exact = store.grads.array.map { Double($0) * Double($0) }.reduce(0, +).squareRoot()
        XCTAssertEqual(Double(one), exact, accuracy: exact * 1e-6)
    }

    func testNonFiniteGradientsAreDetected() {
        let f = Fixture()
        f.run(steps: 1) {}
        XCTAssertTrue(gradientsAreFinite(f.store))
        for bad in [Float.nan, .infinity, -.infinity] {
            f.store.parameters[1].grad.data[2] = bad
            XCTAssertFalse(gradientsAreFinite(f.store), "\(bad)")
            XCTAssertFalse(clipGradientNorm(f.store, maxNorm: 1).isFinite)
            XCTAssertEqual(f.store.grads.array[0], 0.1, "a non-finite norm leaves gradients alone")
        }
        XCTAssertTrue(gradientsAreFinite(Fixture(mode: .meta).store))
    }

    // MARK: Config

    func testOptimizerConfigDefaultsAndMake() throws {
        let adamw = try decode(OptimizerConfig.self, #"{"name": "adamw"}"#)
        XCTAssertEqual(adamw, OptimizerConfig(.adamw, learningRate: 1e-3, weightDecay: 0.01, betas: (0.9, 0.999), epsilon: 1e-8))
        let made = try XCTUnwrap(adamw.make() as? AdamW)
        XCTAssertEqual([made.beta1, made.beta2, made.epsilon, made.weightDecay], [0.9, 0.999, 1e-8, 0.01])

        let sgd = try decode(OptimizerConfig.self, #"{"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": true, "weight_decay": 5e-4}"#)
        let madeSGD = try XCTUnwrap(sgd.make() as? SGD)
        XCTAssertEqual(sgd.learningRate, 0.1)
        XCTAssertEqual([madeSGD.momentum, madeSGD.weightDecay], [0.9, 5e-4])
        XCTAssertTrue(madeSGD.nesterov)

        let lamb = try decode(OptimizerConfig.self, #"{"name": "lamb", "betas": [0.8, 0.99]}"#)
        let madeLAMB = try XCTUnwrap(lamb.make() as? LAMB)
        XCTAssertEqual([madeLAMB.beta1, madeLAMB.beta2, madeLAMB.epsilon, madeLAMB.weightDecay, madeLAMB.maxTrustRatio],
                       [0.8, 0.99, 1e-6, 0.01, 10])
        XCTAssertEqual((try decode(OptimizerConfig.self, #"{"name": "adam"}"#).make() as? AdamW)?.weightDecay, 0)

        for config in [adamw, sgd, lamb, OptimizerConfig(.adam)] {
            XCTAssertEqual(try JSONDecoder().decode(OptimizerConfig.self, from: JSONEncoder().encode(config)), config)
        }
    }

    func testOptimizerConfigErrors() throws {
        // Nested in a larger document, the key path comes from the decoder.
        struct Training: Decodable { let optimizer: OptimizerConfig }
        struct Document: Decodable { let training: Training }
        XCTAssertThrowsError(try decode(Document.self, #"{"training": {"optimizer": {"name": "adamw", "lr": -1}}}"#)) {
            XCTAssertEqual(String(describing: $0), "training.optimizer.lr: must be positive, got -1")
        }
        let cases = [
            (#"{"name": "adamx"}"#, "optimizer.name: unknown optimizer 'adamx' (valid: adamw, adam, sgd, lamb). Did you mean 'adamw'?"),
            (#"{"lr": 0.1}"#, "optimizer.name: missing (one of adamw, adam, sgd, lamb)"),
            (#"{"name": "adamw", "wieght_decay": 0.1}"#,
             "optimizer.wieght_decay: unknown key in adamw (valid: name, lr, weight_decay, betas, eps). Did you mean 'weight_decay'?"),
            (#"{"name": "adamw", "momentum": 0.9}"#,
             "optimizer.momentum: not an option of adamw (its options: name, lr, weight_decay, betas, eps)"),
            (#"{"name": "adamw", "lr": "fast"}"#, "optimizer.lr: expected a number"),
            (#"{"name": "adamw", "betas": [0.9, 0.99, 0.9]}"#, "optimizer.betas: expected two numbers [beta1, beta2], got 3"),
            (#"{"name": "lamb", "betas": [0.9, 1]}"#, "optimizer.betas[1]: must be in [0, 1), got 1"),
            (#"{"name": "sgd", "momentum": 1.5}"#, "optimizer.momentum: must be in [0, 1), got 1.5"),
            (#"{"name": "sgd", "nesterov": true}"#, "optimizer.nesterov: needs momentum > 0"),
            (#"{"name": "adamw", "weight_decay": -0.1}"#, "optimizer.weight_decay: must be at least 0, got -0.1"),
            (#"{"name": "adamw", "eps": 0}"#, "optimizer.eps: must be positive, got 0"),
        ]
        for (json, message) in cases { assertConfigError(json, as: OptimizerConfig.self, message) }
        XCTAssertThrowsError(try OptimizerConfig(.adam, weightDecay: 0.1).validate(keyPath: "training.optimizer")) {
            XCTAssertEqual(($0 as? ConfigError)?.keyPath, "training.optimizer.weight_decay")
        }
    }

    // MARK: Helpers

    private func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(json.utf8))
    }

    /// Decoding `json` under the key `optimizer` or `schedule` fails with exactly `message`.
    private func assertConfigError<T: Decodable>(_ json: String, as type: T.Type, _ message: String,
                                                 file: StaticString = #filePath, line: UInt = #line) {
        let key = T.self == OptimizerConfig.self ? "optimizer" : "schedule"
        XCTAssertThrowsError(try decode([String: T].self, #"{"\#(key)": \#(json)}"#), file: file, line: line) { error in
            XCTAssertTrue(error is ConfigError, "\(error)", file: file, line: line)
            XCTAssertEqual(String(describing: error), message, file: file, line: line)
        }
    }
}
