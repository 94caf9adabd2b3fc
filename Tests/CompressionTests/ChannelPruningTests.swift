import XCTest
import Engine
@testable import Compression

final class ChannelPruningTests: XCTestCase {
    private let inputShape = [8, 8, 1]
    private let classes = 3

    // MARK: - Helpers

    private func makeModel(_ spec: ArchitectureSpec, context: ExecutionContext = ExecutionContext(), seed: UInt64 = 7) throws -> Model {
        try Model(spec: spec, inputShape: inputShape, classes: classes, context: context, seed: seed)
    }

    private func parameter(_ model: Model, _ name: String) throws -> Parameter {
        try XCTUnwrap(model.store.parameters.first { $0.name == name }, "no parameter \(name)")
    }

    private func randomBatch(_ context: ExecutionContext, samples: Int = 5, seed: UInt64) -> Tensor {
        var rng = RandomSource(seed: seed)
        let n = samples * inputShape.reduce(1, *)
        return Tensor((0..<n).map { _ in rng.nextNormal() }, shape: [samples] + inputShape, context: context)
    }

    /// Fill the running statistics of every BatchNorm with batch statistics of random inputs.
    private func warmUpBatchNorm(_ model: Model) {
        for step in 0..<3 { _ = model.forward(randomBatch(model.context, samples: 6, seed: 100 + UInt64(step)), training: true) }
    }

    /// Zero the weights and bias producing `units` of layer `producer` (and its BatchNorm's scale
    /// and shift), so those units output exactly zero after a ReLU and have the lowest norm.
    private func silence(_ model: Model, _ producer: String, units: [Int]) throws {
        let weight = try parameter(model, producer + ".weight")
        let w = weight.value.data
        if weight.shape.count == 4 {                       // (k, k, cin, cout)
            let cout = weight.shape[3]
            for i in 0..<weight.count where units.contains(i % cout) { w[i] = 0 }
        } else {                                           // (out, in)
            let columns = weight.shape[1]
            for u in units { for j in 0..<columns { w[u * columns + j] = 0 } }
        }
        let bn = producer.hasSuffix(".conv") ? String(producer.dropLast(".conv".count)) + ".bn" : producer + ".bn"
        let vectors = [producer + ".bias", bn + ".scale", bn + ".shift"]
        for p in model.store.parameters where vectors.contains(p.name) {
            for u in units { p.value.data[u] = 0 }
        }
    }

    private func assertSameParameterShapes(_ pruned: Model, _ expected: ArchitectureSpec, file: StaticString = #filePath, line: UInt = #line) throws {
        let fresh = try makeModel(expected, context: ExecutionContext(mode: .meta))
        XCTAssertEqual(pruned.spec, expected, file: file, line: line)
        XCTAssertEqual(pruned.store.parameters.map(\.name), fresh.store.parameters.map(\.name), file: file, line: line)
        XCTAssertEqual(pruned.store.parameters.map(\.shape), fresh.store.parameters.map(\.shape), file: file, line: line)
    }

    /// Prune `model` and check its logits match the original's on a random batch.
    private func assertPrunedOutputsEqual(_ model: Model, _ plan: ChannelPruning, file: StaticString = #filePath, line: UInt = #line) throws -> [String: [Int]] {
        let x = randomBatch(model.context, seed: 42)
        let before = model.forward(x, training: false).array
        let (pruned, kept) = try pruneChannels(model, plan, seed: 7)
        XCTAssertLessThan(pruned.parameterCount, model.parameterCount, file: file, line: line)
        let after = pruned.forward(x, training: false).array
        XCTAssertEqual(before.count, after.count, file: file, line: line)
        for (a, b) in zip(before, after) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(a)), file: file, line: line) }
        return kept
    }

    private static let residualSpec = ArchitectureSpec.cnn(CNNSpec(stages: [
        CNNStage(channels: 4, batchnorm: true, pool: .max),
        CNNStage(channels: 6, blocks: 2, residual: true, batchnorm: true),
    ], head: [6]))

    // MARK: - Shapes

    func testParameterShapesMatchAFreshModelOfTheReducedSpec() throws {
        let cases: [(ArchitectureSpec, ArchitectureSpec)] = [
            (.mlp(MLPSpec(widths: [6, 5], norm: .batch)), .mlp(MLPSpec(widths: [3, 2], norm: .batch))),
            (Self.residualSpec, .cnn(CNNSpec(stages: [
                CNNStage(channels: 2, batchnorm: true, pool: .max),
                CNNStage(channels: 3, blocks: 2, residual: true, batchnorm: true),
            ], head: [3]))),
            (.cnn(CNNSpec(stages: [CNNStage(channels: 4, stride: 2), CNNStage(channels: 8, pool: .avg)], head: [4], globalPool: true)),
             .cnn(CNNSpec(stages: [CNNStage(channels: 2, stride: 2), CNNStage(channels: 4, pool: .avg)], head: [2], globalPool: true))),
        ]
        for (spec, expected) in cases {
            let model = try makeModel(spec)
            warmUpBatchNorm(model)
            let (pruned, kept) = try pruneChannels(model, ChannelPruning(ratio: 0.5, norm: .l2))
            try assertSameParameterShapes(pruned, expected)
            XCTAssertTrue(pruned.context === model.context)
            for (name, units) in kept {
                XCTAssertEqual(units, units.sorted(), name)
                XCTAssertEqual(Set(units).count, units.count, name)
            }
            // Running statistics were copied at the kept width.
            for case let bn as BatchNorm in leafLayers(of: pruned.network) {
                XCTAssertEqual(bn.runningMean?.count, bn.channels, bn.name)
            }
        }
    }

    // MARK: - Exactness when the removed units were already silent

    func testMLPWithSilentUnitsKeepsItsOutputs() throws {
        for norm in [NormKind.none, .batch] {
            let model = try makeModel(.mlp(MLPSpec(widths: [6, 4], norm: norm)))
            warmUpBatchNorm(model)
            try silence(model, "fc0", units: [1, 4, 5])
            try silence(model, "fc1", units: [0, 2])
            let kept = try assertPrunedOutputsEqual(model, ChannelPruning(ratio: 0.5, norm: .l1))
            XCTAssertEqual(kept["fc0"], [0, 2, 3])
            XCTAssertEqual(kept["fc1"], [1, 3])
            XCTAssertNil(kept["classifier"])
        }
    }

    func testCNNWithSilentChannelsKeepsItsOutputs() throws {
        let spec = ArchitectureSpec.cnn(CNNSpec(stages: [
            CNNStage(channels: 4, batchnorm: true, pool: .max),
            CNNStage(channels: 6),
        ], head: [6]))
        let model = try makeModel(spec)
        warmUpBatchNorm(model)
        try silence(model, "stage0.block0.conv", units: [0, 3])
        try silence(model, "stage1.block0.conv", units: [1, 2, 5])
        try silence(model, "head0", units: [2, 3, 4])
        let kept = try assertPrunedOutputsEqual(model, ChannelPruning(ratio: 0.5, norm: .l2))
        XCTAssertEqual(kept["stage0.block0.conv"], [1, 2])
        XCTAssertEqual(kept["stage1.block0.conv"], [0, 3, 4])
        XCTAssertEqual(kept["head0"], [0, 1, 5])
    }

    func testGlobalPoolCNNWithSilentChannelsKeepsItsOutputs() throws {
        let model = try makeModel(.cnn(CNNSpec(stages: [CNNStage(channels: 4), CNNStage(channels: 4)], globalPool: true)))
        try silence(model, "stage0.block0.conv", units: [2, 3])
        try silence(model, "stage1.block0.conv", units: [0, 2])
        let kept = try assertPrunedOutputsEqual(model, ChannelPruning(ratio: 0.5, scope: .conv))
        XCTAssertEqual(kept["stage1.block0.conv"], [1, 3])
    }

    func testResidualStageWithSilentChannelsKeepsItsOutputs() throws {
        let model = try makeModel(Self.residualSpec)
        warmUpBatchNorm(model)
        try silence(model, "stage0.block0.conv", units: [1, 2])
        // The skip connection adds block 0's output to block 1's `.b` output: one shared set.
        try silence(model, "stage1.block0.conv", units: [0, 4, 5])
        try silence(model, "stage1.block1.b.conv", units: [0, 4, 5])
        try silence(model, "stage1.block1.a.conv", units: [1, 2, 3])
        try silence(model, "head0", units: [0, 1, 2])
        let kept = try assertPrunedOutputsEqual(model, ChannelPruning(ratio: 0.5, norm: .l1))
        XCTAssertEqual(kept["stage1.block0.conv"], [1, 2, 3])
        XCTAssertEqual(kept["stage1.block1.b.conv"], [1, 2, 3])
        XCTAssertEqual(kept["stage1.block1.a.conv"], [0, 4, 5])
    }

    // MARK: - Cost

    func testFLOPsFallByTheExpectedFactor() throws {
        let spec = ArchitectureSpec.cnn(CNNSpec(stages: [CNNStage(channels: 8), CNNStage(channels: 8)]))
        let model = try makeModel(spec)
        let (pruned, _) = try pruneChannels(model, ChannelPruning(ratio: 0.5))
        func convFLOPs(_ spec: ArchitectureSpec) throws -> [String: Double] {
            let ctx = ExecutionContext(mode: .meta, recordsEvents: true)
            let m = try makeModel(spec, context: ctx)
            ctx.resetCounters()
            _ = m.forward(Tensor(shape: [1] + inputShape, context: ctx), training: false)
            return Dictionary(ctx.events.filter { $0.kind == .conv }.map { ($0.name, $0.flops) }, uniquingKeysWith: +)
        }
        let before = try convFLOPs(spec), after = try convFLOPs(pruned.spec)
        // 2·H·W·k²·cin·cout + H·W·cout (bias), H = W = 8, k = 3.
        func conv(_ cin: Double, _ cout: Double) -> Double { 2 * 64 * 9 * cin * cout + 64 * cout }
        XCTAssertEqual(before["stage0.block0.conv"], conv(1, 8))
        XCTAssertEqual(after["stage0.block0.conv"], conv(1, 4))
        XCTAssertEqual(before["stage1.block0.conv"], conv(8, 8))
        XCTAssertEqual(after["stage1.block0.conv"], conv(4, 4))
        let second = try XCTUnwrap(after["stage1.block0.conv"]) / XCTUnwrap(before["stage1.block0.conv"])
        XCTAssertEqual(second, 0.25, accuracy: 0.01)
        let total = try Model.forwardFLOPsPerSample(spec: spec, inputShape: inputShape, classes: classes)
        let prunedTotal = try Model.forwardFLOPsPerSample(spec: pruned.spec, inputShape: inputShape, classes: classes)
        XCTAssertEqual(pruned.measuredForwardFLOPsPerSample(), prunedTotal)
        XCTAssertLessThan(prunedTotal, 0.35 * total)
    }

    // MARK: - Scores, scope, meta mode

    func testGivenScoresOverrideTheNorms() throws {
        let model = try makeModel(.mlp(MLPSpec(widths: [6])))
        let plan = ChannelPruning(ratio: 0.5, scores: ["fc0": [0.1, 5, 0.2, 4, 3, 0.3]])
        let (pruned, kept) = try pruneChannels(model, plan)
        XCTAssertEqual(kept["fc0"], [1, 3, 4])
        let inputs = inputShape.reduce(1, *)
        let oldFC = try parameter(model, "fc0.weight").value.array, newFC = try parameter(pruned, "fc0.weight").value.array
        let oldBias = try parameter(model, "fc0.bias").value.array, newBias = try parameter(pruned, "fc0.bias").value.array
        for (i, unit) in [1, 3, 4].enumerated() {
            XCTAssertEqual(Array(newFC[(i * inputs)..<((i + 1) * inputs)]), Array(oldFC[(unit * inputs)..<((unit + 1) * inputs)]))
            XCTAssertEqual(newBias[i], oldBias[unit])
        }
        let oldHead = try parameter(model, "classifier.weight").value.array, newHead = try parameter(pruned, "classifier.weight").value.array
        for c in 0..<classes {
            XCTAssertEqual(Array(newHead[(c * 3)..<(c * 3 + 3)]), [1, 3, 4].map { oldHead[c * 6 + $0] })
        }
        XCTAssertEqual(try parameter(pruned, "classifier.bias").value.array, try parameter(model, "classifier.bias").value.array)
    }

    func testResidualScoresAreSummedOverTheSharedOutputs() throws {
        let model = try makeModel(Self.residualSpec, context: ExecutionContext(mode: .meta))
        let plan = ChannelPruning(ratio: 0.5, scope: .conv, scores: [
            "stage1.block0.conv": [5, 0, 0, 1, 0, 2],
            "stage1.block1.b.conv": [0, 0, 4, 0, 0, 2],
            "stage1.block1.a.conv": [0, 9, 0, 9, 9, 0],
        ])
        let (pruned, kept) = try pruneChannels(model, plan)
        XCTAssertEqual(kept["stage1.block0.conv"], [0, 2, 5])
        XCTAssertEqual(kept["stage1.block1.b.conv"], [0, 2, 5])
        XCTAssertEqual(kept["stage1.block1.a.conv"], [1, 3, 4])
        XCTAssertEqual(kept["stage0.block0.conv"], [0, 1], "meta mode without scores keeps the first units")
        XCTAssertNil(kept["head0"])
        guard case .cnn(let s) = pruned.spec else { return XCTFail("family changed") }
        XCTAssertEqual(s.stages.map(\.channels), [2, 3])
        XCTAssertEqual(s.head, [6])
    }

    func testScopeChoosesWhichLayersShrink() throws {
        let model = try makeModel(Self.residualSpec)
        let (convOnly, _) = try pruneChannels(model, ChannelPruning(ratio: 0.5, scope: .conv))
        let (linearOnly, keptLinear) = try pruneChannels(model, ChannelPruning(ratio: 0.5, scope: .linear))
        guard case .cnn(let c) = convOnly.spec, case .cnn(let l) = linearOnly.spec else { return XCTFail("family changed") }
        XCTAssertEqual(c.stages.map(\.channels), [2, 3])
        XCTAssertEqual(c.head, [6])
        XCTAssertEqual(l.stages.map(\.channels), [4, 6])
        XCTAssertEqual(l.head, [3])
        XCTAssertEqual(Array(keptLinear.keys), ["head0"])
        // Nothing removed: the same spec and the same outputs.
        let x = randomBatch(model.context, seed: 9)
        let before = model.forward(x, training: false).array
        let (same, _) = try pruneChannels(model, ChannelPruning(ratio: 0))
        XCTAssertEqual(same.spec, model.spec)
        XCTAssertEqual(same.forward(x, training: false).array, before)
    }

    // MARK: - Errors

    func testUnsupportedModelsAndBadPlansThrow() throws {
        let meta = ExecutionContext(mode: .meta)
        let unsupported: [(Model, String)] = [
            (try makeModel(.cnn(CNNSpec(stages: [CNNStage(channels: 4), CNNStage(channels: 4, depthwise: true)])), context: meta), "depthwise"),
            (try makeModel(.vit(ViTSpec(patch: 4, dim: 8, depth: 1, heads: 2, mlpRatio: 2)), context: meta), "vit"),
            (try Model(spec: .gpt(GPTSpec(layers: 1, hidden: 8, heads: 2, sequenceLength: 4, vocabulary: 8)),
                       inputShape: [4], classes: 8, context: meta, seed: 0), "gpt"),
        ]
        for (model, word) in unsupported {
            XCTAssertThrowsError(try pruneChannels(model, ChannelPruning(ratio: 0.5))) { error in
                let e = error as? ConfigError
                XCTAssertEqual(e?.keyPath, "compression")
                XCTAssertTrue(e?.reason.contains(word) == true, "\(error)")
                XCTAssertTrue(e?.reason.contains("does not support") == true, "\(error)")
            }
        }
        let mlp = try makeModel(.mlp(MLPSpec(widths: [6])), context: meta)
        let bad: [(ChannelPruning, String)] = [
            (ChannelPruning(ratio: 1.5), "compression.ratio"),
            (ChannelPruning(ratio: .nan), "compression.ratio"),
            (ChannelPruning(ratio: 0.5, scores: ["fc0": [1, 2]]), "compression.scores.fc0"),
            (ChannelPruning(ratio: 0.5, scores: ["fc1": [1, 2, 3, 4, 5, 6]]), "compression.scores"),
        ]
        for (plan, keyPath) in bad {
            XCTAssertThrowsError(try pruneChannels(mlp, plan)) { error in
                XCTAssertEqual((error as? ConfigError)?.keyPath, keyPath, "\(error)")
            }
        }
    }
}
