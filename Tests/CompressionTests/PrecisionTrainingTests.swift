import XCTest
import Engine
@testable import Compression

/// Mixed precision inside the training loop: the weights the model computes with are 16-bit
/// values, the master copy stays FP32, and loss scaling undoes itself exactly.
final class PrecisionTrainingTests: XCTestCase {
    private func candidate(steps: Int) -> Candidate {
        var data = DataConfig(dataset: .blobs, validationFraction: 0, samples: 300, classes: 3)
        data.dimensions = 8
        return Candidate(architecture: .mlp(MLPSpec(widths: [16])),
                         training: TrainingConfig(optimizer: OptimizerConfig(.adam, learningRate: 0.01), batchSize: 30, steps: steps, seed: 2, threads: 1),
                         data: data)
    }

    private func train(_ c: Candidate, _ hook: WorkingWeights) throws -> Model {
        let trainer = Trainer(candidate: c)
        trainer.hooks = [hook]
        _ = try trainer.run()
        return try XCTUnwrap(trainer.model)
    }

    func testWorkingWeightsAreSixteenBitAndActivationsAreRounded() throws {
        for format in [FloatFormat.bf16, .fp16, .tf32] {
            let hook = WorkingWeights(format: format, scaler: nil)
            let model = try train(candidate(steps: 7), hook)
            let values = model.store.values.array
            XCTAssertEqual(values, values.map(format.round), "\(format): every working weight is representable")
            XCTAssertEqual(model.context.computeDType, format.dtype)
            let x = Tensor((0..<16).map { Float($0) / 7 }, shape: [2, 8], context: model.context)
            let y = model.forward(x, training: false).array
            XCTAssertEqual(y, y.map(format.round), "\(format): the logits come out of a rounded boundary")
        }
    }

    func testAFixedLossScaleUndoesItselfInFP32() throws {
        let plain = try train(candidate(steps: 10), WorkingWeights(format: .fp32, scaler: nil)).store.values.array
        let scaled = try train(candidate(steps: 10), WorkingWeights(format: .fp32, scaler: .fixed(1024))).store.values.array
        // A power-of-two scale is exact in binary floating point: the same weights, bit for bit.
        XCTAssertEqual(plain, scaled)
    }

    func testOverflowingStepsLeaveTheWeightsAlone() throws {
        // Every gradient of a scale 2^60 overflows FP16 → every step is skipped until the scale
        // has halved enough; with a one-step run and hysteresis 3 nothing may change.
        let before = try Model(spec: .mlp(MLPSpec(widths: [16])), inputShape: [8], classes: 3, context: ExecutionContext(), seed: 2)
            .store.values.array.map(FloatFormat.fp16.round)
        let hook = WorkingWeights(format: .fp16, scaler: LossScaler(initialScalePower: 60, hysteresis: 3))
        let after = try train(candidate(steps: 1), hook).store.values.array
        XCTAssertEqual(hook.skippedSteps, 1)
        XCTAssertEqual(hook.scaler?.scale, Float(pow(2.0, 60.0)), "hysteresis absorbs the first overflow")
        XCTAssertEqual(after, before)
    }
}
