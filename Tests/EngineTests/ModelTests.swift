import XCTest
@testable import Engine

final class ModelTests: XCTestCase {
    private func decode(_ json: String) throws -> ArchitectureSpec {
        try JSONDecoder().decode(ArchitectureSpec.self, from: Data(json.utf8))
    }

    func testSpecsDecodeWithDefaultsAndRoundTrip() throws {
        let cnn = try decode(#"{"family": "cnn", "stages": [{"channels": 8, "pool": "max"}], "head": [16]}"#)
        guard case .cnn(let s) = cnn else { return XCTFail("not a cnn") }
        XCTAssertEqual(s.stages[0].kernel, 3)
        XCTAssertEqual(s.stages[0].pool, .max)
        XCTAssertEqual(s.activation, .relu)
        for spec in [cnn, try decode(#"{"family": "gpt", "layers": 2, "hidden": 16, "heads": 4, "sequence_length": 8, "vocabulary": 32}"#),
                     try decode(#"{"family": "vit", "patch": 7, "dim": 16, "depth": 1, "heads": 2}"#),
                     try decode(#"{"family": "mlp", "widths": [32, 16], "norm": "layer", "dropout": 0.1}"#)] {
            XCTAssertEqual(try JSONDecoder().decode(ArchitectureSpec.self, from: JSONEncoder().encode(spec)), spec)
        }
    }

    func testBadSpecsNameTheField() {
        func reason(_ json: String) -> String {
            do { _ = try decodeJSONConfig(ArchitectureSpec.self, from: Data(json.utf8), file: "a.json"); return "" }
            catch { return "\(error)" }
        }
        XCTAssertEqual(reason(#"{"family": "mpl", "widths": [1]}"#),
                       "a.json: family: unknown family 'mpl' (valid: mlp, cnn, vit, gpt). Did you mean 'mlp'?")
        XCTAssertTrue(reason(#"{"family": "mlp", "width": [1]}"#).hasPrefix("a.json: width: unknown key in an mlp architecture"), reason(#"{"family": "mlp", "width": [1]}"#))
        XCTAssertTrue(reason(#"{"family": "mlp", "width": [1]}"#).hasSuffix("Did you mean 'widths'?"))
        XCTAssertEqual(reason(#"{"family": "mlp", "widths": [1], "activation": "relux"}"#),
                       "a.json: activation: unknown value 'relux' (valid: relu, gelu, silu, tanh, sigmoid). Did you mean 'relu'?")
        XCTAssertEqual(reason(#"{"family": "mlp", "widths": [1, "x"]}"#), "a.json: widths[1]: expected an integer but found a string instead")
        XCTAssertEqual(reason("{\"family\": \"mlp\",\n \"widths\": [1,,]}"), "a.json: line 2, column 15: malformed JSON (unexpected character ',')")
        XCTAssertEqual(reason(#"{"family": "gpt", "layers": 2, "hidden": 16}"#), "a.json: heads: missing required key")
    }

    func testValidationRejectsImpossibleArchitectures() {
        func reason(_ spec: ArchitectureSpec, _ input: [Int] = [28, 28, 1], classes: Int = 10) -> String {
            do { try spec.validate(inputShape: input, classes: classes); return "" } catch { return "\(error)" }
        }
        XCTAssertEqual(reason(.mlp(MLPSpec(widths: [32, 0]))), "architecture.widths[1]: must be ≥ 1, got 0")
        XCTAssertEqual(reason(.vit(ViTSpec(patch: 7, dim: 30, depth: 1, heads: 4))), "architecture.heads: 4 does not divide dim 30")
        XCTAssertEqual(reason(.vit(ViTSpec(patch: 5, dim: 32, depth: 1, heads: 4))), "architecture.patch: 5 does not divide the 28×28 image")
        let deep = CNNSpec(stages: [CNNStage(channels: 8, pool: .max), CNNStage(channels: 8, pool: .max),
                                    CNNStage(channels: 8, pool: .max), CNNStage(channels: 8, kernel: 5)])
        XCTAssertEqual(reason(.cnn(deep)), "architecture.stages[3].kernel: 5 is larger than this stage's 3×3 input")
        XCTAssertEqual(reason(.gpt(GPTSpec(layers: 1, hidden: 10, heads: 3, sequenceLength: 8, vocabulary: 16)), [8], classes: 16),
                       "architecture.heads: 3 does not divide hidden 10")
        XCTAssertEqual(reason(.cnn(CNNSpec(stages: [CNNStage(channels: 4)])), [20]),
                       "architecture.family: cnn needs image input [H, W, C], the data has samples of shape [20]")
        XCTAssertEqual(reason(.mlp(MLPSpec(widths: [4], dropout: 1))), "architecture.dropout: must be in [0, 1), got 1.0")
    }

    /// Narayanan et al. 2021 (§5.1): parameters P = 12lh²(1 + 13/(12h) + (V + s)/(12lh)); a
    /// transformer layer's forward is 24Bsh² + 4Bs²h FLOPs and the logit layer's 2BshV, so the
    /// forward is 24Bslh²(1 + s/(6h)) + 2BshV and a step without recomputation three times the
    /// layers plus 6BshV for the logit layer (their 96Bslh²(1 + s/(6h) + V/(16lh)) adds a fourth,
    /// recomputing pass to the layers only). Our model adds a final LayerNorm (2h parameters).
    func testGPTParametersAndFLOPsMatchNarayanan() throws {
        let (l, h, a, s, v, b) = (3.0, 64.0, 4, 16.0, 100.0, 2.0)
        let spec = GPTSpec(layers: Int(l), hidden: Int(h), heads: a, sequenceLength: Int(s), vocabulary: Int(v))
        let ctx = ExecutionContext(mode: .meta)
        let model = try Model(spec: .gpt(spec), inputShape: [Int(s)], classes: Int(v), context: ctx, seed: 0)
        let p = 12 * l * h * h * (1 + 13 / (12 * h) + (v + s) / (12 * l * h))
        XCTAssertEqual(Double(model.parameterCount), p + 2 * h, accuracy: 1e-6)

        ctx.resetCounters()
        _ = model.forward(Tensor(shape: [Int(b), Int(s)], context: ctx), training: true)
        let layers = 24 * b * s * l * h * h * (1 + s / (6 * h))
        let logits = 2 * b * s * h * v
        XCTAssertEqual(ctx.summary.flops(.matmul), layers + logits, accuracy: 1e-3)

        // Training step: the embedding has no input gradient (token ids), everything else 3×.
        let step = try Model.traceTrainingStep(spec: .gpt(spec), inputShape: [Int(s)], classes: Int(v), batch: Int(b))
        XCTAssertEqual(step.summary.flops(.matmul), 3 * (layers + logits), accuracy: 1e-3)
    }

    func testGPT175BTracesInMetaModeQuickly() throws {
        let spec = GPTSpec(layers: 96, hidden: 12288, heads: 96, sequenceLength: 2048, vocabulary: 51200)
        let start = Date()
        let ctx = try Model.traceTrainingStep(spec: .gpt(spec), inputShape: [2048], classes: 51200, batch: 1)
        let seconds = Date().timeIntervalSince(start)
        let (l, h, s, v) = (96.0, 12288.0, 2048.0, 51200.0)
        let expected = 72 * s * l * h * h * (1 + s / (6 * h)) + 6 * s * h * v
        XCTAssertEqual(ctx.summary.flops(.matmul), expected, accuracy: expected * 1e-12)
        // Parameters, gradients and two Adam moments in fp32: 16 bytes per parameter at least.
        XCTAssertGreaterThan(ctx.summary.peakBytes, 16 * 174e9)
        XCTAssertLessThan(seconds, 5, "meta tracing must not touch data (the benchmark holds it to well under a second)")
    }

    func testForwardFLOPsPerSampleOfTheBenchmarkMLP() throws {
        let flops = try Model.forwardFLOPsPerSample(spec: .mlp(MLPSpec(widths: [512, 512])), inputShape: [28, 28, 1], classes: 10)
        let macs: Int = 784 * 512 + 512 * 512 + 512 * 10
        let biases: Int = 512 + 512 + 10
        let relus: Int = 512 + 512
        XCTAssertEqual(flops, Double(2 * macs + biases + relus))
    }

    /// Once a step's buffers exist, further training steps (forward, backward, optimizer) report
    /// no allocation, for every family (a smaller last batch included).
    func testTrainingStepsAllocateNothingAfterWarmUp() throws {
        let cases: [(ArchitectureSpec, [Int], Int)] = [
            (.mlp(MLPSpec(widths: [16], dropout: 0.1, norm: .layer)), [6], 3),
            (.cnn(CNNSpec(stages: [CNNStage(channels: 4, blocks: 2, residual: true, batchnorm: true, pool: .max),
                                   CNNStage(channels: 6, depthwise: true, pool: .avg)], head: [8], dropout: 0.1)), [8, 8, 2], 3),
            (.vit(ViTSpec(patch: 4, dim: 8, depth: 1, heads: 2, mlpRatio: 2, dropout: 0.1)), [8, 8, 1], 3),
            (.gpt(GPTSpec(layers: 1, hidden: 8, heads: 2, sequenceLength: 6, vocabulary: 11)), [6], 11),
        ]
        for (spec, shape, classes) in cases {
            let ctx = ExecutionContext()
            let model = try Model(spec: spec, inputShape: shape, classes: classes, context: ctx, seed: 3)
            let optimizer = AdamW()
            let x = Tensor(shape: [4] + shape, context: ctx)
            for i in 0..<x.count { x.data[i] = spec.family == "gpt" ? Float(i % classes) : Float(i % 5) / 5 }
            let labels = [Int32](repeating: 1, count: spec.family == "gpt" ? 4 * shape[0] : 4)
            func step(batch: Int) {
                x.reshape([batch] + shape)
                model.store.zeroGradients()
                _ = labels.withUnsafeBufferPointer { model.accumulateGradients(x, labels: $0.baseAddress!) }
                optimizer.step(model.store, learningRate: 1e-3)
            }
            step(batch: 4)
            let allocations = ctx.summary.allocations
            step(batch: 4)
            step(batch: 3)
            step(batch: 4)
            XCTAssertEqual(ctx.summary.allocations, allocations, "\(spec.family) allocates inside training steps")
        }
    }

    func testEveryFamilyBuildsAndRunsABatch() throws {
        let cases: [(ArchitectureSpec, [Int], Int)] = [
            (.mlp(MLPSpec(widths: [16], norm: .batch)), [6], 3),
            (.cnn(CNNSpec(stages: [CNNStage(channels: 4, blocks: 2, residual: true, batchnorm: true, pool: .max),
                                   CNNStage(channels: 6, kernel: 5, stride: 2, depthwise: true, pool: .avg)],
                          head: [8], globalPool: true)), [12, 12, 2], 3),
            (.vit(ViTSpec(patch: 4, dim: 8, depth: 1, heads: 2, mlpRatio: 2)), [8, 8, 1], 3),
            (.gpt(GPTSpec(layers: 1, hidden: 8, heads: 2, sequenceLength: 6, vocabulary: 11)), [6], 11),
        ]
        for (spec, shape, classes) in cases {
            let ctx = ExecutionContext()
            let model = try Model(spec: spec, inputShape: shape, classes: classes, context: ctx, seed: 3)
            let x = Tensor(shape: [2] + shape, context: ctx)
            for i in 0..<x.count { x.data[i] = spec.family == "gpt" ? Float(i % classes) : Float(i % 7) / 7 }
            let labels = [Int32](repeating: 1, count: spec.family == "gpt" ? 2 * shape[0] : 2)
            model.store.zeroGradients()
            let r = labels.withUnsafeBufferPointer { model.accumulateGradients(x, labels: $0.baseAddress!) }
            XCTAssertTrue(r.loss.isFinite, spec.family)
            XCTAssertGreaterThan(model.parameterCount, 0)
        }
    }

    func testMedianLatenciesTimeEachModelInTurnWithoutChangingIt() throws {
        let a = try Model(spec: .mlp(MLPSpec(widths: [16])), inputShape: [4, 4, 1], classes: 3, context: ExecutionContext(), seed: 0)
        let b = try Model(spec: .mlp(MLPSpec(widths: [8])), inputShape: [4, 4, 1], classes: 3, context: ExecutionContext(), seed: 1)
        let before = a.store.values.array
        let ms = Model.medianLatencies([a, b], batch: 2, warmups: 1, minimumRounds: 3, maximumRounds: 3, budgetSeconds: 0)
        XCTAssertEqual(ms.count, 2)
        XCTAssertTrue(ms.allSatisfy { $0 > 0 && $0.isFinite }, "\(ms)")
        XCTAssertEqual(a.store.values.array, before)
    }
}
