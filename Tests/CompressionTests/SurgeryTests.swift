import XCTest
import Engine
@testable import Compression

/// Rebuilding networks: low-rank factorization keeps a low-rank layer's outputs exactly,
/// wrappers and rebuilt models keep their weights, model states round-trip.
final class SurgeryTests: XCTestCase {
    private func batch(_ ctx: ExecutionContext, _ shape: [Int], seed: UInt64) -> Tensor {
        var rng = RandomSource(seed: seed)
        return Tensor((0..<shape.reduce(1, *)).map { _ in rng.nextNormal() }, shape: shape, context: ctx)
    }

    /// Overwrite a (rows × columns) weight with U·V of rank `rank`.
    private func makeLowRank(_ p: Parameter, rows: Int, columns: Int, rank: Int, seed: UInt64) {
        var rng = RandomSource(seed: seed)
        let u = (0..<rows * rank).map { _ in rng.nextNormal() }, v = (0..<rank * columns).map { _ in rng.nextNormal() }
        for i in 0..<rows { for j in 0..<columns {
            var s: Float = 0
            for k in 0..<rank { s += u[i * rank + k] * v[k * columns + j] }
            p.value.data[i * columns + j] = s * 0.1
        } }
    }

    func testFactorizingAnExactlyLowRankMLPKeepsItsOutputs() throws {
        let ctx = ExecutionContext()
        let model = try Model(spec: .mlp(MLPSpec(widths: [48])), inputShape: [40], classes: 5, context: ctx, seed: 3)
        let fc0 = try XCTUnwrap(model.store.parameters.first { $0.name == "fc0.weight" })
        makeLowRank(fc0, rows: 48, columns: 40, rank: 3, seed: 9)
        let x = batch(ctx, [6, 40], seed: 1)
        let before = model.forward(x, training: false).array
        let (factored, summary) = try factorizeLowRank(model, choice: .energy(0.999999))
        XCTAssertTrue(summary.hasPrefix("factorized 1 layers (1 kept whole)"), summary)
        XCTAssertEqual(factored.store.parameters.map(\.name).prefix(3), ["fc0.v.weight", "fc0.u.weight", "fc0.u.bias"])
        XCTAssertEqual(factored.store.parameters.first?.shape, [3, 40])
        let after = factored.forward(x, training: false).array
        for (a, b) in zip(before, after) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        XCTAssertLessThan(factored.parameterCount, model.parameterCount)
    }

    func testFactorizingAnExactlyLowRankConvKeepsItsOutputs() throws {
        let ctx = ExecutionContext()
        let spec = ArchitectureSpec.cnn(CNNSpec(stages: [CNNStage(channels: 24, kernel: 3)]))
        let model = try Model(spec: spec, inputShape: [6, 6, 4], classes: 3, context: ctx, seed: 2)
        let w = try XCTUnwrap(model.store.parameters.first { $0.name == "stage0.block0.conv.weight" })
        makeLowRank(w, rows: 3 * 3 * 4, columns: 24, rank: 2, seed: 4)
        let x = batch(ctx, [2, 6, 6, 4], seed: 5)
        let before = model.forward(x, training: false).array
        // The classifier (3 × 864) is full rank and too thin to gain: only the conv is factored.
        let (factored, summary) = try factorizeLowRank(model, choice: .energy(0.999999))
        XCTAssertTrue(summary.hasPrefix("factorized 1 layers (1 kept whole)"), summary)
        XCTAssertEqual(factored.store.parameters.first?.shape, [3, 3, 4, 2])
        XCTAssertEqual(factored.store.parameters[1].shape, [1, 1, 2, 24])
        let after = factored.forward(x, training: false).array
        for (a, b) in zip(before, after) { XCTAssertEqual(a, b, accuracy: 1e-4) }
    }

    func testModelStateRoundTripsWeightsAndBatchNormStatistics() throws {
        let spec = ArchitectureSpec.mlp(MLPSpec(widths: [16], norm: .batch))
        let model = try Model(spec: spec, inputShape: [8], classes: 3, context: ExecutionContext(), seed: 4)
        for step in 0..<3 { _ = model.forward(batch(model.context, [10, 8], seed: UInt64(step)), training: true) }
        let x = batch(model.context, [4, 8], seed: 99)
        let expected = model.forward(x, training: false).array
        let copy = try ModelState(model, seed: 4).model()
        let y = Tensor(x.array, shape: x.shape, context: copy.context)
        XCTAssertEqual(copy.forward(y, training: false).array, expected)
    }

    func testRemodelKeepsSharedParametersAndLeavesAreInOrder() throws {
        let ctx = ExecutionContext()
        let spec = ArchitectureSpec.cnn(CNNSpec(stages: [CNNStage(channels: 4, pool: .max), CNNStage(channels: 4, blocks: 2, residual: true)], head: [8]))
        let model = try Model(spec: spec, inputShape: [8, 8, 1], classes: 3, context: ctx, seed: 1)
        let x = batch(ctx, [2, 8, 8, 1], seed: 2)
        let before = model.forward(x, training: false).array
        let wrapped = try NetworkSurgery.remodel(model, network: NetworkSurgery.rebuild(model.network) { layer in
            layer is Conv2d ? ActivationQuantizer(layer, mode: .observe, bits: 8, method: .minMax) : nil
        })
        XCTAssertEqual(NetworkSurgery.leaves(wrapped.network).filter { $0 is ActivationQuantizer }.count, 4)
        XCTAssertEqual(wrapped.forward(x, training: false).array, before, "observing wrappers change nothing")
        XCTAssertEqual(NetworkSurgery.weights(of: wrapped).map(\.layer),
                       ["stage0.block0.conv", "stage1.block0.conv", "stage1.block1.a.conv", "stage1.block1.b.conv", "head0", "classifier"])
    }
}
