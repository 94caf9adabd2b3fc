import XCTest
@testable import Engine

/// The layer pairs a `Sequential` runs as one pass: the same numbers, bit for bit, and the same
/// trace as the layers run one after the other; gradients by finite differences.
final class FusedPairTests: XCTestCase {
    /// An observer that changes nothing: its presence alone makes a `Sequential` run every layer
    /// on its own, which is the reference a fused pass is compared with.
    private final class WatchingEveryBoundary: LayerBoundaryObserver {
        func forwardOutput(_ y: Tensor, of layer: Layer, training: Bool) {}
        func backwardGradient(_ dy: Tensor, of layer: Layer) {}
    }

    /// Output, input gradient and parameter gradients of conv → ReLU → max pool → flatten → linear
    /// over a batch of `shape`, fused or not.
    private func run(fused: Bool, shape: [Int], pool kernel: Int, stride: Int, threads: Int = 1) -> (y: [Float], dx: [Float], grads: [Float], trace: TraceSummary) {
        let previous = EngineThreads.count
        defer { EngineThreads.set(previous) }
        EngineThreads.set(threads)
        let ctx = ExecutionContext()
        if !fused { ctx.boundaryObserver = WatchingEveryBoundary() }
        let cout = 10
        let conv = Conv2d("conv", shape[3], cout, kernel: 3, padding: 1)
        let pool = MaxPool2d("pool", kernel: kernel, stride: stride)
        let pooled = try! pool.outputShape(for: [shape[1], shape[2], cout])
        let net = Sequential("net", [conv, Activation(.relu), pool, Flatten(), Linear("fc", shapeCount(pooled), 3)])
        let store = ParameterStore(net.parameters, context: ctx)
        var rng = RandomSource(seed: 5)
        net.initialize(using: &rng)
        let x = Tensor(shape: shape, context: ctx)
        for i in 0..<x.count { x.data[i] = rng.nextNormal() }
        store.zeroGradients()
        let y = net(x, training: true)
        let r = Tensor(shape: y.shape, context: ctx)
        for i in 0..<r.count { r.data[i] = rng.nextNormal() }
        let dx = net.backward(r)!
        return (y.array, dx.array, store.grads.array, ctx.summary)
    }

    func testReLUMaxPoolFusionMatchesTheLayersBitForBit() {
        // Ten channels (a vector of eight and a tail); windows that tile the input, leave a margin
        // (5×7 under 2×2 windows), and overlap (3×3 windows, stride 2).
        for (shape, kernel, stride) in [([3, 6, 6, 2], 2, 2), ([2, 5, 7, 3], 2, 2), ([2, 7, 7, 1], 3, 2)] {
            for threads in [1, 2] {
                let fused = run(fused: true, shape: shape, pool: kernel, stride: stride, threads: threads)
                let layers = run(fused: false, shape: shape, pool: kernel, stride: stride, threads: threads)
                let what = "\(shape), pool \(kernel)/\(stride), \(threads) threads"
                XCTAssertEqual(fused.y.map(\.bitPattern), layers.y.map(\.bitPattern), "output, \(what)")
                XCTAssertEqual(fused.dx.map(\.bitPattern), layers.dx.map(\.bitPattern), "input gradient, \(what)")
                XCTAssertEqual(fused.grads.map(\.bitPattern), layers.grads.map(\.bitPattern), "parameter gradients, \(what)")
            }
        }
    }

    func testFusedPairTracesTheSameWorkAsTheLayers() {
        let fused = run(fused: true, shape: [2, 6, 6, 2], pool: 2, stride: 2)
        let layers = run(fused: false, shape: [2, 6, 6, 2], pool: 2, stride: 2)
        XCTAssertEqual(fused.trace.byKind, layers.trace.byKind)
        XCTAssertEqual(fused.trace.flops, layers.trace.flops)
        // Neither the ReLU's output nor its gradient is allocated when fused.
        XCTAssertLessThan(fused.trace.peakBytes, layers.trace.peakBytes)
    }

    func testFusedReLUMaxPoolGradients() {
        // Distinct values 0.1 apart, none within a finite-difference step of zero or of another,
        // so neither the ReLU's kink nor a change of winner falls inside a step.
        func spread(_ n: Int) -> [Float] {
            var rng = RandomSource(seed: 3)
            return rng.permutation(n).map { Float($0) * 0.1 - Float(n) * 0.05 + 0.05 }
        }
        let tiled = Sequential("relu_pool", [Activation(.relu), MaxPool2d("pool", kernel: 2)])
        XCTAssertNotNil(tiled.fusedPair(at: 0))
        GradientCheck().check(tiled, inputShape: [2, 4, 4, 10], input: spread(320))
        GradientCheck().check(Sequential("relu_pool_margin", [Activation(.relu), MaxPool2d("pool", kernel: 2)]),
                              inputShape: [2, 5, 3, 10], input: spread(300))
        GradientCheck().check(Sequential("relu_pool_overlap", [Activation(.relu), MaxPool2d("pool", kernel: 3, stride: 2)]),
                              inputShape: [2, 5, 5, 2], input: spread(100))
    }

    func testOnlyAReLUBeforeAMaxPoolFuses() {
        let net = Sequential("net", [Activation(.gelu), MaxPool2d(kernel: 2), Activation(.relu), AvgPool2d(kernel: 2),
                                     Activation(.relu), MaxPool2d(kernel: 2)])
        XCTAssertEqual((0..<6).map { net.fusedPair(at: $0) != nil }, [false, false, false, false, true, false])
    }
}
