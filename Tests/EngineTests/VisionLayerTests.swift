import XCTest
@testable import Engine

/// Convolution, pooling, batch normalisation and dropout: gradients by finite differences,
/// forwards against hand-worked numbers and a direct convolution, the cost trace in real and
/// meta mode, and shape errors.
final class VisionLayerTests: XCTestCase {
    /// Parameter stores own the memory their parameters view; keep them alive for the test.
    private var stores: [ParameterStore] = []

    // MARK: Gradients

    func testConv2dGradients() {
        GradientCheck().check(Conv2d("conv", 3, 4, kernel: 3, stride: 2, padding: 1), inputShape: [2, 5, 5, 3])
        GradientCheck().check(Conv2d("conv_same", 2, 3, kernel: 3, padding: 1, bias: false), inputShape: [2, 4, 4, 2])
    }

    func testChunkedConv2dGradients() {
        // The GEMM path with a column budget of two samples: a batch of 5 runs as chunks 2, 2, 1.
        let conv = Conv2d("chunked", 3, 4, kernel: 3, stride: 2, padding: 1)
        conv.directDepthLimit = 0
        conv.columnBudget = 2 * (3 * 3) * 27 * MemoryLayout<Float>.stride
        XCTAssertEqual(conv.samplesPerChunk(WindowGeometry("chunked", [5, 5, 5, 3], channels: 3, kernel: 3, stride: 2, padding: 1)), 2)
        GradientCheck().check(conv, inputShape: [5, 5, 5, 3])
    }

    func testDirectConv2dGradients() {
        // 10 filters: one vector of eight and a tail; rows of 6 and 3 output pixels: groups of four and a tail.
        let grey = Conv2d("direct", 1, 10, kernel: 3, padding: 1)
        XCTAssertTrue(grey.isDirect)
        GradientCheck().check(grey, inputShape: [3, 5, 6, 1])
        GradientCheck().check(Conv2d("direct_strided", 2, 16, kernel: 3, stride: 2, padding: 2, bias: false), inputShape: [2, 5, 4, 2])
    }

    func testPointwiseConv2dGradients() {
        GradientCheck().check(Conv2d("pointwise", 3, 5, kernel: 1), inputShape: [2, 3, 3, 3])
    }

    func testDepthwiseConv2dGradients() {
        GradientCheck().check(DepthwiseConv2d("dw", channels: 3, kernel: 3, stride: 2, padding: 1), inputShape: [2, 5, 5, 3])
    }

    func testDepthwiseSeparableConv2dGradients() {
        let layer = DepthwiseSeparableConv2d("sep", inChannels: 3, outChannels: 5, kernel: 3, padding: 1)
        XCTAssertEqual(layer.parameters.map(\.name), ["sep.depthwise.weight", "sep.depthwise.bias",
                                                      "sep.pointwise.weight", "sep.pointwise.bias"])
        GradientCheck().check(layer, inputShape: [2, 4, 4, 3])
    }

    func testPoolingGradients() {
        // Distinct values 0.1 apart, so a finite-difference step never changes which input wins.
        func spread(_ n: Int) -> [Float] {
            var rng = RandomSource(seed: 3)
            return rng.permutation(n).map { Float($0) * 0.1 - Float(n) * 0.05 }
        }
        GradientCheck().check(MaxPool2d("maxpool", kernel: 2), inputShape: [2, 4, 4, 3], input: spread(96))
        // Ten channels (a vector of eight and a tail), windows that tile the input and ones that leave a margin.
        GradientCheck().check(MaxPool2d("maxpool_wide", kernel: 2), inputShape: [2, 4, 4, 10], input: spread(320))
        GradientCheck().check(MaxPool2d("maxpool_margin", kernel: 2), inputShape: [2, 5, 3, 10], input: spread(300))
        GradientCheck().check(MaxPool2d("maxpool_overlap", kernel: 3, stride: 2), inputShape: [2, 5, 5, 2], input: spread(100))
        GradientCheck().check(AvgPool2d("avgpool", kernel: 2), inputShape: [2, 4, 4, 3])
        GradientCheck().check(AvgPool2d("avgpool_overlap", kernel: 3, stride: 1), inputShape: [2, 4, 4, 2])
        GradientCheck().check(GlobalAvgPool("gap"), inputShape: [2, 3, 3, 4])
    }

    func testBatchNormTrainingGradients() {
        GradientCheck().check(BatchNorm("bn_image", channels: 3), inputShape: [3, 3, 3, 3])
        GradientCheck().check(BatchNorm("bn_features", channels: 5), inputShape: [6, 5])
    }

    func testBatchNormEvaluationGradients() {
        GradientCheck().check(BatchNorm("bn_eval", channels: 4), inputShape: [3, 4], training: false)
    }

    // MARK: Forward values

    func testConv2dForwardByHand() {
        // x = [[1 2 3] [4 5 6] [7 8 9]], filter 0 = [[1 2] [3 4]] + 0.5, filter 1 = −(window sum).
        let ctx = ExecutionContext()
        let conv = Conv2d("conv", 1, 2, kernel: 2)
        bind(conv, ctx)
        for (i, w) in [Float(1), 2, 3, 4].enumerated() {
            conv.weight.value.data[i * 2] = w
            conv.weight.value.data[i * 2 + 1] = -1
        }
        conv.bias!.value.data[0] = 0.5
        let x = Tensor((1...9).map(Float.init), shape: [1, 3, 3, 1], context: ctx)
        let y = conv(x)
        XCTAssertEqual(y.shape, [1, 2, 2, 2])
        XCTAssertEqual(y.array, [37.5, -12, 47.5, -16, 67.5, -24, 77.5, -28])

        let padded = Conv2d("padded", 1, 1, kernel: 2, padding: 1, bias: false)
        bind(padded, ctx)
        for (i, w) in [Float(1), 2, 3, 4].enumerated() { padded.weight.value.data[i] = w }
        let z = padded(x)
        XCTAssertEqual(z.shape, [1, 4, 4, 1])
        // Corners see one input each: top-left x00·w11, bottom-right x22·w00.
        XCTAssertEqual(z.array[0], 4)
        XCTAssertEqual(z.array[15], 9)
        XCTAssertEqual(z.array[5], 37)
    }

    func testConv2dMatchesDirectConvolution() {
        let ctx = ExecutionContext()
        let conv = Conv2d("conv", 3, 4, kernel: 3, stride: 2, padding: 1)
        let x = initialized(conv, input: [2, 6, 5, 3], ctx)
        let y = conv(x)
        let expected = directConvolution(x, weight: conv.weight.value, bias: conv.bias?.value,
                                         kernel: 3, stride: 2, padding: 1, depthwise: false)
        XCTAssertEqual(y.shape, [2, 3, 3, 4])
        assertClose(y.array, expected)
    }

    func testDepthwiseConv2dMatchesDirectConvolution() {
        let ctx = ExecutionContext()
        let conv = DepthwiseConv2d("dw", channels: 3, kernel: 3, stride: 2, padding: 1)
        let x = initialized(conv, input: [2, 5, 6, 3], ctx)
        let y = conv(x)
        let expected = directConvolution(x, weight: conv.weight.value, bias: conv.bias?.value,
                                         kernel: 3, stride: 2, padding: 1, depthwise: true)
        XCTAssertEqual(y.shape, [2, 3, 3, 3])
        assertClose(y.array, expected)
    }

    func testPoolingForward() {
        let ctx = ExecutionContext()
        // One 4×4 channel holding 0…15 row by row.
        let x = Tensor((0..<16).map(Float.init), shape: [1, 4, 4, 1], context: ctx)
        XCTAssertEqual(MaxPool2d(kernel: 2)(x).array, [5, 7, 13, 15])
        XCTAssertEqual(AvgPool2d(kernel: 2)(x).array, [2.5, 4.5, 10.5, 12.5])
        XCTAssertEqual(MaxPool2d(kernel: 3, stride: 1)(x).array, [10, 11, 14, 15])
        XCTAssertEqual(GlobalAvgPool()(x).array, [7.5])
    }

    func testConv2dPathsAgree() {
        // The direct kernel, GEMM on one chunk and GEMM on chunks of 3 (of a batch of 7) give the
        // same outputs and gradients, which match the textbook loops.
        func run(direct: Bool, budget: Int) -> (y: [Float], dx: [Float], grads: [Float]) {
            let ctx = ExecutionContext()
            let conv = Conv2d("conv", 2, 12, kernel: 3, stride: 1, padding: 1)
            conv.directDepthLimit = direct ? 32 : 0
            conv.columnBudget = budget
            let store = bind(conv, ctx)
            let x = initialized(conv, input: [7, 6, 5, 2], ctx)
            var rng = RandomSource(seed: 4)
            let y = conv(x, training: true)
            store.zeroGradients()
            let dx = conv.backward(randomTensor(y.shape, ctx, &rng))!
            let expected = directConvolution(x, weight: conv.weight.value, bias: conv.bias?.value,
                                             kernel: 3, stride: 1, padding: 1, depthwise: false)
            assertClose(y.array, expected)
            return (y.array, dx.array, store.grads.array)
        }
        // A sample's columns: 6·5 pixels of 3·3·2 floats.
        let threeSamples = 3 * 30 * 18 * MemoryLayout<Float>.stride
        let probe = Conv2d("probe", 2, 12, kernel: 3, padding: 1)
        probe.columnBudget = threeSamples
        XCTAssertEqual(probe.samplesPerChunk(WindowGeometry("probe", [7, 6, 5, 2], channels: 2, kernel: 3, stride: 1, padding: 1)), 3)
        let direct = run(direct: true, budget: 3 << 20)
        let whole = run(direct: false, budget: 1 << 30)
        let chunked = run(direct: false, budget: threeSamples)
        for other in [whole, chunked] {
            assertClose(other.y, direct.y)
            assertClose(other.dx, direct.dx)
            assertClose(other.grads, direct.grads)
        }
    }

    func testConv2dRepeatsBitForBit() {
        // Same seed, same threads: identical numbers, on both paths (per-thread partial sums are
        // added in a fixed order).
        func run(direct: Bool) -> [Float] {
            let ctx = ExecutionContext()
            let conv = Conv2d("conv", 3, 16, kernel: 3, padding: 1)
            conv.directDepthLimit = direct ? 32 : 0
            conv.columnBudget = 4096
            let store = bind(conv, ctx)
            let x = initialized(conv, input: [9, 12, 12, 3], ctx)
            var rng = RandomSource(seed: 6)
            let y = conv(x, training: true)
            store.zeroGradients()
            let dx = conv.backward(randomTensor(y.shape, ctx, &rng))!
            return y.array + dx.array + store.grads.array
        }
        let previous = EngineThreads.count
        defer { EngineThreads.set(previous) }
        EngineThreads.set(2)
        XCTAssertEqual(run(direct: true), run(direct: true))
        XCTAssertEqual(run(direct: false), run(direct: false))
    }

    func testMaxPoolKeepsTheFirstOfEqualMaxima() {
        // All inputs equal: each window's first position (top-left) wins, in the vector lanes and the tail.
        let ctx = ExecutionContext()
        let pool = MaxPool2d(kernel: 2)
        let x = Tensor(Array(repeating: 1, count: 4 * 4 * 9), shape: [1, 4, 4, 9], context: ctx)
        _ = pool(x, training: true)
        let dx = pool.backward(Tensor(Array(repeating: 2, count: 2 * 2 * 9), shape: [1, 2, 2, 9], context: ctx))!
        for y in 0..<4 {
            for x in 0..<4 {
                let want: Float = y % 2 == 0 && x % 2 == 0 ? 2 : 0
                let pixel = (y * 4 + x) * 9
                XCTAssertEqual(Array(dx.array[pixel..<(pixel + 9)]), Array(repeating: want, count: 9), "pixel \(y), \(x)")
            }
        }
        // A 3×5 input reuses that gradient buffer; its bottom row and right column lie under no
        // window and must come back zero, not what the last backward left there.
        let margin = Tensor(Array(repeating: 1, count: 3 * 5 * 9), shape: [1, 3, 5, 9], context: ctx)
        _ = pool(margin, training: true)
        let dm = pool.backward(Tensor(Array(repeating: 2, count: 1 * 2 * 9), shape: [1, 1, 2, 9], context: ctx))!
        XCTAssertEqual(dm.shape, [1, 3, 5, 9])
        XCTAssertEqual(dm.array.filter { $0 != 0 }.count, 2 * 9)
        XCTAssertEqual(dm.array[0], 2)
        XCTAssertEqual(dm.array[2 * 9], 2)
    }

    func testBatchNormEvaluationUsesRunningStatistics() {
        let ctx = ExecutionContext()
        let bn = BatchNorm("bn", channels: 2, momentum: 0.1)
        _ = initialized(bn, input: [1, 2], ctx)
        bn.scale.value.data[0] = 2; bn.shift.value.data[1] = -1
        // Three batches of four rows; channel 1 is channel 0 times 10.
        let batches: [[Float]] = [[1, 2, 3, 6], [0, 0, 4, 4], [-1, 1, 2, 10]]
        var mean: [Double] = [0, 0], variance: [Double] = [1, 1]
        for column in batches {
            let x = Tensor(column.flatMap { [$0, 10 * $0] }, shape: [4, 2], context: ctx)
            let y = bn(x, training: true)
            for c in 0..<2 {
                let v = column.map { Double($0) * (c == 0 ? 1 : 10) }
                let m = v.reduce(0, +) / 4
                let sumSquares = v.reduce(0) { $0 + ($1 - m) * ($1 - m) }
                mean[c] = 0.9 * mean[c] + 0.1 * m
                variance[c] = 0.9 * variance[c] + 0.1 * sumSquares / 3
                // Training output uses the batch's biased variance.
                let gamma: Double = c == 0 ? 2 : 1, beta: Double = c == 0 ? 0 : -1
                for r in 0..<4 {
                    let want = gamma * (v[r] - m) / (sumSquares / 4 + 1e-5).squareRoot() + beta
                    XCTAssertEqual(Double(y.data[r * 2 + c]), want, accuracy: 1e-4)
                }
            }
        }
        assertClose(bn.runningMean!.array, mean.map(Float.init))
        assertClose(bn.runningVariance!.array, variance.map(Float.init))
        let x = Tensor([3, -5, 0.5, 20], shape: [2, 2], context: ctx)
        let y = bn(x, training: false)
        let want = (0..<4).map { i -> Float in
            let c = i % 2, gamma: Double = c == 0 ? 2 : 1, beta: Double = c == 0 ? 0 : -1
            return Float(gamma * (Double(x.data[i]) - mean[c]) / (variance[c] + 1e-5).squareRoot() + beta)
        }
        assertClose(y.array, want)
    }

    func testDropout() {
        let ctx = ExecutionContext()
        let n = 20_000, rate: Float = 0.3
        let x = Tensor(Array(repeating: 1, count: n), shape: [100, 200], context: ctx)
        let drop = Dropout("drop", rate: rate, seed: 11)
        let y = drop(x, training: true).array
        let dropped = y.filter { $0 == 0 }.count
        XCTAssertEqual(Double(dropped) / Double(n), Double(rate), accuracy: 0.015)
        XCTAssertTrue(y.allSatisfy { $0 == 0 || abs($0 - 1 / (1 - rate)) < 1e-6 })
        // The backward applies the same mask.
        XCTAssertEqual(drop.backward(x)?.array, y)
        // Same seed, same mask; another seed, another.
        XCTAssertEqual(Dropout("a", rate: rate, seed: 11)(x, training: true).array, y)
        XCTAssertNotEqual(Dropout("b", rate: rate, seed: 12)(x, training: true).array, y)
        // Evaluation and rate 0 are the identity.
        XCTAssertTrue(drop(x, training: false) === x)
        XCTAssertTrue(Dropout("none", rate: 0, seed: 1)(x, training: true) === x)
        XCTAssertTrue(drop.backward(x) === x)
    }

    // MARK: Accumulation, threads

    func testConvolutionAccumulatesParameterGradientsAndSkipsInputGradient() {
        let ctx = ExecutionContext()
        let conv = Conv2d("conv", 2, 3, kernel: 3, padding: 1)
        let store = bind(conv, ctx)
        var rng = RandomSource(seed: 5)
        conv.initialize(using: &rng)
        let x = randomTensor([2, 4, 4, 2], ctx, &rng)
        let dy = randomTensor([2, 4, 4, 3], ctx, &rng)
        store.zeroGradients()
        _ = conv(x, training: true)
        XCTAssertNotNil(conv.backward(dy))
        let once = store.grads.array
        conv.needsInputGradient = false
        _ = conv(x, training: true)
        XCTAssertNil(conv.backward(dy))
        assertClose(store.grads.array, once.map { 2 * $0 })
    }

    func testTwoThreadsMatchOne() {
        func run(_ threads: Int) -> [Float] {
            EngineThreads.set(threads)
            let ctx = ExecutionContext()
            let net = Sequential("net", [Conv2d("conv", 3, 8, kernel: 3, padding: 1), BatchNorm("bn", channels: 8),
                                         DepthwiseConv2d("dw", channels: 8, kernel: 3, stride: 2, padding: 1),
                                         MaxPool2d(kernel: 2), GlobalAvgPool()])
            let store = ParameterStore(net.parameters, context: ctx)
            var rng = RandomSource(seed: 9)
            net.initialize(using: &rng)
            let x = randomTensor([8, 16, 16, 3], ctx, &rng)
            let y = net(x, training: true)
            store.zeroGradients()
            let dx = net.backward(randomTensor(y.shape, ctx, &rng))!
            return y.array + dx.array + store.grads.array
        }
        let previous = EngineThreads.count
        defer { EngineThreads.set(previous) }
        assertClose(run(2), run(1))
    }

    // MARK: Cost trace

    func testConv2dForwardFlops() {
        let ctx = ExecutionContext()
        let conv = Conv2d("conv", 3, 8, kernel: 3, stride: 2, padding: 1)
        let x = initialized(conv, input: [2, 9, 9, 3], ctx)
        ctx.resetCounters()
        _ = conv(x)
        // Ho = Wo = (9 + 2 − 3) / 2 + 1 = 5: 2·B·Ho·Wo·k²·cin·cout + B·Ho·Wo·cout for the bias.
        let (batch, pixels, window, cin, cout) = (2.0, 5.0 * 5, 3.0 * 3, 3.0, 8.0)
        let expected = 2 * batch * pixels * window * cin * cout + batch * pixels * cout
        XCTAssertEqual(expected, 22_000)
        XCTAssertEqual(ctx.summary.flops(.conv), expected)
        XCTAssertEqual(ctx.summary.flops, expected)
        XCTAssertEqual(ctx.summary.byKind[.copy]?.count, 1)
    }

    func testConv2dPathsTraceTheSameWork() {
        // Direct, one GEMM and chunked GEMM record the same FLOPs; meta mode matches real mode,
        // peak memory included.
        func trace(_ mode: ExecutionContext.Mode, direct: Bool, budget: Int) -> TraceSummary {
            let ctx = ExecutionContext(mode: mode)
            let conv = Conv2d("conv", 3, 8, kernel: 3, stride: 2, padding: 1)
            conv.directDepthLimit = direct ? 32 : 0
            conv.columnBudget = budget
            let store = ParameterStore(conv.parameters, context: ctx)
            let x = Tensor(shape: [6, 9, 9, 3], context: ctx)
            for _ in 0..<2 {
                store.zeroGradients()
                let y = conv(x, training: true)
                _ = conv.backward(Tensor(shape: y.shape, context: ctx))
            }
            return ctx.summary
        }
        // Per step: forward, dW and dX GEMMs of 2·rows·k²·cin·cout, the bias forward and
        // backward, and the col2im additions.
        let (rows, depth, cout) = (6.0 * 5 * 5, 27.0, 8.0)
        let perStep = 3 * 2 * rows * depth * cout + 2 * rows * cout + rows * depth
        for (direct, budget) in [(true, 3 << 20), (false, 3 << 20), (false, 1024)] {
            let real = trace(.real, direct: direct, budget: budget), meta = trace(.meta, direct: direct, budget: budget)
            XCTAssertEqual(real.flops, 2 * perStep)
            XCTAssertEqual(meta.byKind, real.byKind)
            XCTAssertEqual(meta.peakBytes, real.peakBytes)
        }
    }

    func testMetaModeTracesTheSameWork() {
        func trace(_ mode: ExecutionContext.Mode) -> TraceSummary {
            let ctx = ExecutionContext(mode: mode)
            let net = Sequential("net", [
                Conv2d("conv", 3, 8, kernel: 3, padding: 1), BatchNorm("bn", channels: 8), Activation(.relu),
                MaxPool2d(kernel: 2), DepthwiseSeparableConv2d("sep", inChannels: 8, outChannels: 6, kernel: 3, stride: 2, padding: 1),
                AvgPool2d(kernel: 2), Conv2d("pointwise", 6, 4, kernel: 1), GlobalAvgPool(), Dropout("drop", rate: 0.5, seed: 1),
                BatchNorm("bn2", channels: 4), Linear("fc", 4, 3),
            ])
            net.needsInputGradient = false
            let store = ParameterStore(net.parameters, context: ctx)
            var rng = RandomSource(seed: 1)
            net.initialize(using: &rng)
            let x = Tensor(shape: [4, 8, 8, 3], context: ctx)
            for step in 0..<2 {
                store.zeroGradients()
                let y = net(x, training: step == 0)
                _ = net.backward(Tensor(shape: y.shape, context: ctx))
            }
            return ctx.summary
        }
        let real = trace(.real), meta = trace(.meta)
        XCTAssertGreaterThan(meta.flops(.conv), 0)
        XCTAssertEqual(meta.byKind, real.byKind)
        XCTAssertEqual(meta.peakBytes, real.peakBytes)
    }

    // MARK: Shape errors

    func testShapeErrorsNameTheLayer() {
        func assertError(_ layer: Layer, _ input: [Int], file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try layer.outputShape(for: input), file: file, line: line) { error in
                // A composite's error comes from the part that failed, named under the composite.
                XCTAssertTrue((error as? ShapeError)?.layer.hasPrefix(layer.name) == true, "\(error)", file: file, line: line)
            }
        }
        assertError(Conv2d("too_big", 1, 4, kernel: 5, padding: 1), [2, 2, 1])
        assertError(Conv2d("wrong_channels", 3, 4, kernel: 3), [8, 8, 2])
        assertError(Conv2d("flat", 3, 4, kernel: 3), [8, 3])
        assertError(Conv2d("empty", 1, 4, kernel: 1), [0, 5, 1])
        assertError(DepthwiseConv2d("dw", channels: 4, kernel: 3), [8, 8, 3])
        assertError(DepthwiseSeparableConv2d("sep", inChannels: 4, outChannels: 8, kernel: 3), [2, 2, 4])
        assertError(MaxPool2d("pool", kernel: 3), [2, 2, 4])
        assertError(AvgPool2d("avg", kernel: 2), [1, 4, 4])
        assertError(GlobalAvgPool("gap"), [16])
        assertError(BatchNorm("bn", channels: 8), [4, 4, 3])
        XCTAssertEqual(try Conv2d("c", 1, 32, kernel: 3, padding: 1).outputShape(for: [28, 28, 1]), [28, 28, 32])
        XCTAssertEqual(try Conv2d("c", 3, 8, kernel: 3, stride: 2).outputShape(for: [7, 8, 3]), [3, 3, 8])
        XCTAssertEqual(try MaxPool2d(kernel: 2).outputShape(for: [7, 7, 5]), [3, 3, 5])
        XCTAssertEqual(try GlobalAvgPool().outputShape(for: [7, 7, 5]), [5])
    }

    // MARK: Helpers

    /// Bind and seed `layer`'s parameters and return a random input of `shape`.
    private func initialized(_ layer: Layer, input shape: [Int], _ ctx: ExecutionContext) -> Tensor {
        bind(layer, ctx)
        var rng = RandomSource(seed: 21)
        layer.initialize(using: &rng)
        return randomTensor(shape, ctx, &rng)
    }

    @discardableResult
    private func bind(_ layer: Layer, _ ctx: ExecutionContext) -> ParameterStore {
        let store = ParameterStore(layer.parameters, context: ctx)
        stores.append(store)
        return store
    }

    private func randomTensor(_ shape: [Int], _ ctx: ExecutionContext, _ rng: inout RandomSource) -> Tensor {
        let t = Tensor(shape: shape, context: ctx)
        for i in 0..<t.count { t.data[i] = rng.nextNormal() }
        return t
    }

    /// The textbook loops: y[b, oy, ox, o] = bias[o] + Σ x[b, iy, ix, i]·w[ky, kx, i, o] (for a
    /// depthwise weight (k, k, C), only i = o).
    private func directConvolution(_ x: Tensor, weight: Tensor, bias: Tensor?, kernel k: Int, stride: Int,
                                   padding: Int, depthwise: Bool) -> [Float] {
        let (batch, h, w, cin) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let cout = depthwise ? cin : weight.shape[3]
        let ho = (h + 2 * padding - k) / stride + 1, wo = (w + 2 * padding - k) / stride + 1
        var y: [Float] = []
        for b in 0..<batch {
            for oy in 0..<ho {
                for ox in 0..<wo {
                    for o in 0..<cout {
                        var s = Double(bias?.data[o] ?? 0)
                        for ky in 0..<k {
                            for kx in 0..<k {
                                let iy = oy * stride - padding + ky, ix = ox * stride - padding + kx
                                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                                for i in (depthwise ? o..<(o + 1) : 0..<cin) {
                                    let wi = depthwise ? (ky * k + kx) * cin + i : ((ky * k + kx) * cin + i) * cout + o
                                    s += Double(x.data[((b * h + iy) * w + ix) * cin + i]) * Double(weight.data[wi])
                                }
                            }
                        }
                        y.append(Float(s))
                    }
                }
            }
        }
        return y
    }

    private func assertClose(_ a: [Float], _ b: [Float], tolerance: Float = 1e-4,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (i, (u, v)) in zip(a, b).enumerated() where abs(u - v) > tolerance * max(1, abs(v)) {
            return XCTFail("element \(i): \(u) vs \(v)", file: file, line: line)
        }
    }
}
