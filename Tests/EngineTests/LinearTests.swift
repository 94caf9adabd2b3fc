import XCTest
@testable import Engine

final class LinearTests: XCTestCase {
    func testLinearGradients() {
        GradientCheck().check(Linear("fc", 5, 3), inputShape: [4, 5])
        GradientCheck().check(Linear("fc3d", 4, 6), inputShape: [2, 3, 4])
        GradientCheck().check(Linear("nobias", 4, 2, bias: false), inputShape: [3, 4])
    }

    func testActivationGradients() {
        for kind in ActivationKind.allCases {
            // Keep inputs away from ReLU's kink at 0, where finite differences are meaningless.
            var rng = RandomSource(seed: 3)
            let values = (0..<24).map { _ -> Float in let v = rng.nextNormal(); return v + (v >= 0 ? 0.1 : -0.1) }
            GradientCheck().check(Activation(kind), inputShape: [4, 6], input: values)
        }
    }

    func testLinearForwardByHand() {
        let ctx = ExecutionContext()
        let fc = Linear("fc", 2, 2)
        let store = ParameterStore(fc.parameters, context: ctx)
        // W = [[1, 2], [3, 4]], b = [0.5, -1]
        for (i, v) in [Float(1), 2, 3, 4].enumerated() { fc.weight.value.data[i] = v }
        fc.bias!.value.data[0] = 0.5; fc.bias!.value.data[1] = -1
        let y = fc.forward(Tensor([1, 1, 2, -1], shape: [2, 2], context: ctx), training: false)
        XCTAssertEqual(y.array, [3.5, 6, 0.5, 1])
        XCTAssertEqual(store.parameterCount, 6)
    }

    func testLinearFLOPsAndMetaMode() {
        for mode in [ExecutionContext.Mode.real, .meta] {
            let ctx = ExecutionContext(mode: mode)
            let fc = Linear("fc", 784, 512)
            let store = ParameterStore(fc.parameters, context: ctx)
            ctx.resetCounters()
            let y = fc.forward(Tensor(shape: [128, 784], context: ctx), training: true)
            XCTAssertEqual(ctx.summary.flops(.matmul), 2 * 128 * 784 * 512)
            XCTAssertEqual(ctx.summary.flops(.elementwise), 128 * 512, "bias add")
            _ = fc.backward(y)
            XCTAssertEqual(ctx.summary.flops(.matmul), 3 * (2 * 128 * 784 * 512))
            fc.needsInputGradient = false
            ctx.resetCounters()
            _ = fc.backward(y)
            XCTAssertEqual(ctx.summary.flops(.matmul), 2 * 128 * 784 * 512, "no dX for a first layer")
            XCTAssertEqual(store.parameterCount, 784 * 512 + 512)
        }
    }

    func testSoftmaxCrossEntropyByHandAndGradient() {
        let ctx = ExecutionContext()
        let ce = SoftmaxCrossEntropy(context: ctx)
        let logits = Tensor([0, 0, Float(log(2.0)), 1, 2, 3], shape: [2, 3], context: ctx)
        let labels: [Int32] = [2, 0]
        let r = labels.withUnsafeBufferPointer { ce(logits, labels: $0.baseAddress!) }
        // Row 0: p = [1/4, 1/4, 1/2] → −log(1/2); row 1: −log(e/(e+e²+e³)).
        let row1 = -log(exp(1.0) / (exp(1.0) + exp(2.0) + exp(3.0)))
        XCTAssertEqual(Double(r.loss), (log(2.0) + row1) / 2, accuracy: 1e-6)
        XCTAssertEqual(r.correct, 1)
        XCTAssertEqual(r.gradient.array[0], 0.125, accuracy: 1e-6)
        XCTAssertEqual(r.gradient.array[2], -0.25, accuracy: 1e-6)
        // Finite differences of the mean loss.
        let eps: Float = 1e-2
        for i in 0..<6 {
            let g = r.gradient.array[i]
            let saved = logits.data[i]
            logits.data[i] = saved + eps
            let lp = labels.withUnsafeBufferPointer { ce(logits, labels: $0.baseAddress!, computeGradient: false).loss }
            logits.data[i] = saved - eps
            let lm = labels.withUnsafeBufferPointer { ce(logits, labels: $0.baseAddress!, computeGradient: false).loss }
            logits.data[i] = saved
            XCTAssertEqual((lp - lm) / (2 * eps), g, accuracy: 2e-3)
        }
    }

    func testResidualAndSequentialGradients() {
        let block = Residual("res", [Linear("a", 4, 4), Activation(.tanh), Linear("b", 4, 4)])
        GradientCheck().check(block, inputShape: [3, 4])
        GradientCheck().check(Sequential("seq", [Linear("a", 4, 5), Activation(.sigmoid), Linear("b", 5, 2)]), inputShape: [3, 4])
    }

    func testBuffersAreReusedAcrossSteps() {
        let ctx = ExecutionContext()
        let net = Sequential("seq", [Linear("a", 8, 8), Activation(.relu), Linear("b", 8, 2)])
        _ = ParameterStore(net.parameters, context: ctx)
        let x = Tensor(shape: [16, 8], context: ctx)
        _ = net.backward(net.forward(x, training: true))
        let allocations = ctx.summary.allocations
        for _ in 0..<3 { _ = net.backward(net.forward(x, training: true)) }
        x.reshape([5, 8])   // a smaller last batch fits the same buffers
        _ = net.backward(net.forward(x, training: true))
        XCTAssertEqual(ctx.summary.allocations, allocations, "a training step allocates nothing once buffers exist")
    }
}

final class InputGradientTests: XCTestCase {
    /// A network that starts with a reshape must still skip its first Linear's input gradient.
    func testFirstParameterisedLayerSkipsItsInputGradient() throws {
        let ctx = ExecutionContext(mode: .meta)
        let model = try Model(spec: .mlp(MLPSpec(widths: [16])), inputShape: [4, 4, 1], classes: 3, context: ctx, seed: 0)
        let layers = model.network.layers
        XCTAssertTrue(layers[0] is Flatten)
        XCTAssertEqual(layers.map(\.needsInputGradient), [false, false, true, true])
        ctx.resetCounters()
        let x = Tensor(shape: [8, 4, 4, 1], context: ctx)
        _ = model.network.backward(model.forward(x, training: true))
        // fc0 (16→16) and the classifier (16→3), batch 8: forward both, backward
        // fc0.dW, classifier.dW and classifier.dX — no fc0.dX.
        let fc0 = 2.0 * 8 * 16 * 16, classifier = 2.0 * 8 * 16 * 3
        XCTAssertEqual(ctx.summary.flops(.matmul), 2 * fc0 + 3 * classifier)
    }
}
