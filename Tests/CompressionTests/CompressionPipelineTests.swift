import XCTest
import Engine
@testable import Compression

/// Recipes end to end on small synthetic data: each step runs, keeps its promise (exact
/// sparsity through fine-tuning, integer kernels, smaller footprints), and bad recipes fail
/// before training with their key path.
final class CompressionPipelineTests: XCTestCase {
    private func candidate(widths: [Int] = [32], epochs: Int = 3, seed: UInt64 = 1) -> Candidate {
        var data = DataConfig(dataset: .blobs, validationFraction: 0, samples: 600, classes: 4)
        data.dimensions = 16
        return Candidate(architecture: .mlp(MLPSpec(widths: widths)),
                         training: TrainingConfig(optimizer: OptimizerConfig(.adam, learningRate: 0.01), batchSize: 32, epochs: epochs, seed: seed, threads: 1),
                         data: data)
    }

    private func run(_ recipe: Recipe) throws -> CompressionReport {
        try CompressionRunner(recipe: recipe).run()
    }

    func testPlainRecipeMatchesTheTrainer() throws {
        let c = candidate()
        let plain = try Trainer(candidate: c).run()
        let r = try run(Recipe(candidate: c))
        XCTAssertEqual(r.testAccuracy, plain.testAccuracy, accuracy: 1e-12)
        XCTAssertEqual(r.footprint.bytes, 4 * Double(plain.parameters), accuracy: 1)
        XCTAssertEqual(r.inference, "fp32")
    }

    func testMixedPrecisionTrainsAndStoresSixteenBits() throws {
        for format in [FloatFormat.fp16, .bf16] {
            let r = try run(Recipe(candidate: candidate(), precision: PrecisionConfig(format)))
            XCTAssertGreaterThan(r.testAccuracy, 0.9, "\(format)")
            XCTAssertEqual(r.footprint.bytes, 2 * Double(r.footprint.parameters), accuracy: 1, "\(format)")
            XCTAssertEqual(r.inferenceTrace.flopsByDType[format.dtype] ?? 0, r.flopsPerSample, accuracy: 1e-6, "\(format)")
            XCTAssertEqual(r.lossScale != nil, format == .fp16)
        }
    }

    func testFP16LossScalerSkipsOverflowingStepsAndBacksOff() throws {
        // A huge fixed initial scale overflows FP16 gradients at once: the scaler must skip
        // those steps and halve until the gradients fit.
        var precision = PrecisionConfig(.fp16)
        precision.initialScalePower = 40
        precision.hysteresis = 1
        let r = try run(Recipe(candidate: candidate(), precision: precision))
        XCTAssertGreaterThan(r.skippedSteps, 0)
        XCTAssertLessThan(r.lossScale ?? .infinity, Float(1 << 20))
        XCTAssertGreaterThan(r.testAccuracy, 0.9)
    }

    func testPruningHitsTheExactSparsityAndKeepsItThroughFineTuning() throws {
        let r = try run(Recipe(candidate: candidate(widths: [64]), compression: [.prune(PruneStep(sparsity: 0.75, epochs: 2))]))
        let weights = r.footprint.tensors.filter { $0.name.hasSuffix(".weight") }
        let total = weights.reduce(0) { $0 + $1.count }, nonzero = weights.reduce(0) { $0 + $1.nonzero }
        XCTAssertEqual(total - nonzero, Int((0.75 * Double(total)).rounded()))
        XCTAssertLessThan(r.footprint.bytes, r.footprint.fp32Bytes * 0.5)
        XCTAssertGreaterThan(r.testAccuracy, 0.9)
    }

    func testInt8PostTrainingQuantizationRunsIntegerKernels() throws {
        let r = try run(Recipe(candidate: candidate(widths: [64]), compression: [.quantize(QuantizeStep(mode: .ptq))]))
        XCTAssertEqual(r.inference, "int8")
        XCTAssertGreaterThan(r.inferenceTrace.flopsByDType[.int8] ?? 0, 0)
        XCTAssertGreaterThan(r.testAccuracy, 0.9)
        let weights = r.footprint.tensors.filter { $0.name.hasSuffix(".weight") }
        for w in weights { XCTAssertEqual(w.format, "int8") }
        XCTAssertLessThan(r.footprint.bytes, r.footprint.fp32Bytes * 0.4)
    }

    func testQuantizationAwareTrainingAtFourBits() throws {
        let scheme = QuantizationScheme(bits: 4, symmetric: true, perChannel: true, levels: .uniform)
        let r = try run(Recipe(candidate: candidate(widths: [64]), compression: [.quantize(QuantizeStep(mode: .qat, weights: scheme, epochs: 1))]))
        XCTAssertEqual(r.inference, "int4")
        XCTAssertGreaterThan(r.testAccuracy, 0.9)
    }

    func testLowRankSharingAndDistillationRun() throws {
        let lowRank = try run(Recipe(candidate: candidate(widths: [64, 64]), compression: [.lowRank(LowRankStep(choice: .rank(4), epochs: 1))]))
        XCTAssertLessThan(Double(lowRank.footprint.parameters), Double(try run(Recipe(candidate: candidate(widths: [64, 64]))).footprint.parameters))
        let shared = try run(Recipe(candidate: candidate(widths: [64]), compression: [.share(ShareStep(bits: 2, epochs: 1))]))
        for w in shared.footprint.tensors where w.name.hasSuffix(".weight") { XCTAssertEqual(w.format, "2-bit codebook") }
        let teacher = TeacherSpec(architecture: .mlp(MLPSpec(widths: [64])))
        let distilled = try run(Recipe(candidate: candidate(widths: [8]), compression: [.distill(DistillStep(teachers: [teacher]))]))
        XCTAssertGreaterThan(distilled.testAccuracy, 0.9)
    }

    func testFeatureDistillationTrainsAndLeavesAPlainClassifier() throws {
        let teacher = TeacherSpec(architecture: .mlp(MLPSpec(widths: [48])))
        let step = DistillStep(teachers: [teacher], featureWeight: 1)
        let runner = CompressionRunner(recipe: Recipe(candidate: candidate(widths: [16]), compression: [.distill(step), .quantize(QuantizeStep())]))
        let r = try runner.run()
        XCTAssertGreaterThan(r.testAccuracy, 0.9)
        XCTAssertEqual(r.inference, "int8")
        let model = try XCTUnwrap(runner.model)
        XCTAssertFalse(NetworkSurgery.leaves(model.network).contains { $0 is FeatureTap })
        XCTAssertTrue(model.network.layers.last is QuantizedLinear, "the classifier is quantized like any other layer")
    }

    func testFeatureTapAddsItsGradient() throws {
        let ctx = ExecutionContext()
        let linear = Linear("classifier", 3, 2)
        let store = ParameterStore(linear.parameters, context: ctx)
        var rng = RandomSource(seed: 1)
        linear.initialize(using: &rng)
        let tap = FeatureTap(linear)
        let x = Tensor([1, 2, 3, -1, 0, 1], shape: [2, 3], context: ctx)
        _ = tap.forward(x, training: true)
        XCTAssertEqual(tap.features?.array, x.array)
        let dy = Tensor([1, 0, 0, 1], shape: [2, 2], context: ctx)
        let plain = linear.backward(dy)!.array
        _ = tap.forward(x, training: true)
        tap.pendingGradient = [1, 1, 1, 2, 2, 2]
        let withTap = tap.backward(dy)!.array
        for (d, e) in zip(zip(withTap, plain).map { $0 - $1 }, [Float(1), 1, 1, 2, 2, 2]) { XCTAssertEqual(d, e, accuracy: 1e-5) }
        XCTAssertNil(tap.pendingGradient, "the added gradient is used once")
        _ = store
    }

    func testImpossibleCombinationsFailBeforeTraining() throws {
        let oneChannel = Recipe(candidate: candidate(widths: [1]), compression: [.quantize(QuantizeStep(
            mode: .ptq, weights: QuantizationScheme(bits: 2, symmetric: true, perChannel: true, levels: .uniform)))])
        XCTAssertThrowsError(try run(oneChannel)) { error in
            let e = error as? ConfigError
            XCTAssertEqual(e?.keyPath, "compression[0].per_channel")
            XCTAssertTrue(e?.reason.hasPrefix("fc0: ") == true, "\(error)")
        }
        let notLast = Recipe(candidate: candidate(), compression: [.quantize(QuantizeStep()), .prune(PruneStep(sparsity: 0.5))])
        XCTAssertThrowsError(try notLast.validate()) { error in
            XCTAssertEqual((error as? ConfigError)?.keyPath, "compression[0]")
        }
    }

    func testRecipeFileErrorsNameTheKeyPath() {
        func reason(_ json: String) -> String {
            do { _ = try decodeJSONConfig(Recipe.self, from: Data(json.utf8), file: "r.json"); return "no error" }
            catch { return "\(error)" }
        }
        let base = #""architecture": {"family": "mlp", "widths": [8]}, "training": {"optimizer": {"name": "adam"}}, "data": {"dataset": "blobs"}"#
        XCTAssertEqual(reason("{\(base), \"precision\": \"fp8\"}"),
                       "r.json: precision: the engine trains in fp32, tf32, fp16, bf16; fp8 training is costed by the meta evaluator and estimate")
        XCTAssertEqual(reason("{\(base), \"compression\": [{\"method\": \"prune\", \"sparsity\": 1.5}]}"),
                       "r.json: compression[0].sparsity: must be in 0.0…0.999, got 1.5")
        XCTAssertEqual(reason("{\(base), \"compression\": [{\"method\": \"quantise\"}]}"),
                       "r.json: compression[0].method: unknown compression method 'quantise' (valid: quantize, prune, prune_channels, distill, lowrank, share, l1). Did you mean 'quantize'?")
        XCTAssertEqual(reason("{\(base), \"compression\": [{\"method\": \"quantize\", \"bits\": 3}]}"),
                       "r.json: compression[0].bits: must be 8, 4, 2 or 1 (binary), got 3")
        XCTAssertEqual(reason("{\(base), \"compression\": [{\"method\": \"share\", \"bitz\": 3}]}"),
                       "r.json: compression[0].bitz: unknown key in a share step (valid: method, bits, epochs, lr). Did you mean 'bits'?")
    }

    func testFootprintLayouts() {
        // 1,000 values at 8 bits, 100 non-zero: dense 1,000 B; bitmap 125 + 100 = 225 B;
        // index (10 + 8 bits each) 225 B.
        XCTAssertEqual(ModelFootprint.storedBytes(count: 1000, nonzero: 100, bits: 8), 225)
        XCTAssertEqual(ModelFootprint.storedBytes(count: 1000, nonzero: 1000, bits: 32), 4000)
        // 10 non-zero of 1,024 FP32 values: index layout (10 + 32 bits) = 52.5 → 53 B.
        XCTAssertEqual(ModelFootprint.storedBytes(count: 1024, nonzero: 10, bits: 32, overhead: 4), 57)
    }
}
