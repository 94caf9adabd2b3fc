import XCTest
import Compression
import Engine
@testable import Report

/// A model rebuilt from its kept-weights file exports to the same ONNX bytes as the model itself:
/// plain, with batch norm, and after each kind of compression the format keeps.
final class KeptModelONNXTests: XCTestCase {
    /// `model` kept and read back, and both exported: the bytes must be equal.
    private func assertSameONNX(_ model: Model, rounding: FloatFormat = .fp32, seed: UInt64 = 3,
                                file: StaticString = #filePath, line: UInt = #line) throws {
        let original = try ONNXExporter.export(model, activationRounding: rounding)
        let kept = try TrainedModelFile.decode(try TrainedModelFile.encode(model, seed: seed, activationRounding: rounding, owner: "t"))
        XCTAssertEqual(kept.activationRounding, rounding, file: file, line: line)
        let rebuilt = try ONNXExporter.export(kept.model, activationRounding: kept.activationRounding)
        XCTAssertEqual(rebuilt.count, original.count, file: file, line: line)
        XCTAssertTrue(rebuilt == original, "the kept model's ONNX differs", file: file, line: line)
    }

    /// Training-mode forwards on random inputs: batch norms' running statistics move.
    private func stir(_ m: Model, seed: UInt64 = 4) {
        var rng = RandomSource(seed: seed)
        for _ in 0..<3 {
            let x = Tensor(shape: [5] + m.inputShape, context: m.context)
            for i in 0..<x.count { x.data[i] = 2 * rng.nextFloat() - 1 }
            _ = m.forward(x, training: true)
        }
    }

    private func cnnWithBatchNorm() throws -> Model {
        let spec = CNNSpec(stages: [CNNStage(channels: 6, kernel: 3, batchnorm: true, pool: .max),
                                    CNNStage(channels: 8, blocks: 2, kernel: 3, residual: true, batchnorm: true)],
                           head: [10], activation: .relu)
        let m = try Model(spec: .cnn(spec), inputShape: [8, 8, 2], classes: 4, context: ExecutionContext(), seed: 3)
        stir(m)
        return m
    }

    func testMLPExportsTheSameBytes() throws {
        let m = try Model(spec: .mlp(MLPSpec(widths: [12, 6], activation: .gelu, dropout: 0.2, norm: .layer)), inputShape: [5, 5, 1],
                          classes: 3, context: ExecutionContext(), seed: 3)
        try assertSameONNX(m)
        try assertSameONNX(m, rounding: .fp16)
    }

    func testCNNWithBatchNormExportsTheSameBytes() throws {
        let m = try cnnWithBatchNorm()
        try assertSameONNX(m)
        try assertSameONNX(m, rounding: .bf16)
    }

    func testChannelPrunedLowRankAndInt8ConvolutionsExportTheSameBytes() throws {
        let pruned = try pruneChannels(try cnnWithBatchNorm(), ChannelPruning(ratio: 0.5), seed: 3).model
        stir(pruned, seed: 8)
        try assertSameONNX(pruned)
        let (factored, _) = try factorizeLowRank(pruned, choice: .rank(2))
        try assertSameONNX(factored)
        let params = AffineQuantization(scale: [0.02], zeroPoint: [-5], qmin: -128, qmax: 127)
        let integer = try NetworkSurgery.remodel(factored, network: NetworkSurgery.rebuild(factored.network) { layer -> Layer? in
            switch layer {
            case let c as Conv2d: return try QuantizedConv2d(c, weightBits: 8, input: c.name.hasSuffix(".v") ? .calibrated(params) : .dynamic)
            case let l as Linear: return try QuantizedLinear(l, weightBits: 6, input: .dynamic)
            default: return nil
            }
        })
        XCTAssertTrue(NetworkSurgery.leaves(integer.network).contains { $0 is QuantizedConv2d })
        try assertSameONNX(integer)
    }

    func testTransformersExportTheSameBytes() throws {
        let vit = try Model(spec: .vit(ViTSpec(patch: 2, dim: 8, depth: 1, heads: 2, mlpRatio: 2)), inputShape: [4, 4, 1], classes: 3,
                            context: ExecutionContext(), seed: 3)
        try assertSameONNX(vit)
        let gpt = try Model(spec: .gpt(GPTSpec(layers: 1, hidden: 8, heads: 2, sequenceLength: 6, vocabulary: 11)), inputShape: [6],
                            classes: 11, context: ExecutionContext(), seed: 3)
        let integer = try NetworkSurgery.remodel(gpt, network: NetworkSurgery.rebuild(gpt.network) {
            try ($0 as? Linear).map { try QuantizedLinear($0, input: .dynamic) }
        })
        XCTAssertTrue(NetworkSurgery.leaves(integer.network).contains { $0 is QuantizedLinear }, "the tied head in int8")
        try assertSameONNX(integer)
    }

    func testFakeQuantizedInputsExportTheSameBytes() throws {
        let base = try Model(spec: .mlp(MLPSpec(widths: [7])), inputShape: [4], classes: 3, context: ExecutionContext(), seed: 3)
        let wrapped = try NetworkSurgery.remodel(base, network: NetworkSurgery.rebuild(base.network) {
            $0 is Linear ? ActivationQuantizer($0, mode: .fakeQuantize, bits: 6, method: .percentile(99)) : nil
        })
        stir(wrapped)      // learns each quantizer's range
        try assertSameONNX(wrapped)
    }

    /// Through the compression pipeline, as a study's worker keeps it: a BF16 run, channel pruning,
    /// low rank and post-training int8 on synthetic blobs.
    func testACompressionRunnersFinalModelExportsTheSameBytes() throws {
        var data = DataConfig(dataset: .blobs, validationFraction: 0, samples: 300, classes: 3)
        data.dimensions = 6
        let candidate = Candidate(architecture: .mlp(MLPSpec(widths: [16, 12], norm: .batch)),
                                  training: TrainingConfig(optimizer: OptimizerConfig(.adam, learningRate: 0.01), batchSize: 32, epochs: 1,
                                                           seed: 2, threads: 1),
                                  data: data)
        let recipes = [
            Recipe(candidate: candidate, precision: PrecisionConfig(.bf16),
                   compression: [.pruneChannels(ChannelPruneStep(ratio: 0.25, epochs: 1)), .lowRank(LowRankStep(choice: .rank(3), epochs: 1))]),
            Recipe(candidate: candidate, compression: [.lowRank(LowRankStep(choice: .rank(4))), .quantize(QuantizeStep(mode: .ptq))]),
        ]
        for recipe in recipes {
            let runner = CompressionRunner(recipe: recipe)
            _ = try runner.run()
            let final = try XCTUnwrap(runner.finalModel)
            XCTAssertEqual(final.seed, 2)
            let kept = try TrainedModelFile.decode(try final.file(owner: "trial 0"))
            XCTAssertEqual(kept.activationRounding, runner.activationRounding)
            XCTAssertTrue(try ONNXExporter.export(kept.model, activationRounding: kept.activationRounding)
                          == ONNXExporter.export(final.model, activationRounding: runner.activationRounding))
        }
    }
}
