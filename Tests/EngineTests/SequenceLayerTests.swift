import Foundation
import XCTest
@testable import Engine

/// LayerNorm, Embedding, PatchEmbedding, MultiHeadSelfAttention, TransformerBlock and TokenPooling:
/// gradients against finite differences, attention against a hand-worked example, causal masking,
/// and the cost seam (exact matmul FLOPs; meta mode traces the same work and holds no data).
final class SequenceLayerTests: XCTestCase {
    /// Parameters are views into their store's buffers, so every store lives as long as the test.
    private var stores: [ParameterStore] = []

    private func bind(_ layer: Layer, _ ctx: ExecutionContext) -> ParameterStore {
        let store = ParameterStore(layer.parameters, context: ctx)
        stores.append(store)
        return store
    }

    // MARK: Gradients

    func testLayerNormGradients() {
        GradientCheck().check(LayerNorm("ln", 8), inputShape: [2, 3, 8])
    }

    func testPatchEmbeddingGradients() throws {
        let layer = try PatchEmbedding("patches", imageSize: (4, 6), 2, 2, 5)
        XCTAssertEqual(try layer.outputShape(for: [4, 6, 2]), [6, 5])
        GradientCheck(samples: 60).check(layer, inputShape: [2, 4, 6, 2])
    }

    func testAttentionGradients() throws {
        GradientCheck().check(try MultiHeadSelfAttention("attn", 8, 2, causal: false), inputShape: [2, 5, 8])
    }

    func testCausalAttentionGradients() throws {
        GradientCheck().check(try MultiHeadSelfAttention("attn", 8, 2, causal: true), inputShape: [2, 5, 8])
    }

    /// A tensor-parallel shard: 2 heads of width 3 on an 8-wide input (inner width 6 ≠ 8), no
    /// output bias.
    func testAttentionShardGradients() throws {
        let shard = try MultiHeadSelfAttention("attn", 8, 2, causal: true, headDimension: 3, projectionBias: false)
        XCTAssertEqual(shard.qkvWeight.shape, [18, 8])
        XCTAssertEqual(shard.outputWeight.shape, [8, 6])
        XCTAssertNil(shard.outputBias)
        XCTAssertEqual(shard.parameters.count, 3)
        GradientCheck().check(shard, inputShape: [2, 4, 8])
    }

    func testTransformerBlockGradients() throws {
        let block = try TransformerBlock("block", 8, 2, mlpRatio: 2, causal: true, seed: 1)
        XCTAssertEqual(try block.outputShape(for: [4, 8]), [4, 8])
        GradientCheck().check(block, inputShape: [2, 4, 8])
    }

    func testTokenPoolingGradients() throws {
        XCTAssertEqual(try TokenPooling().outputShape(for: [3, 4]), [4])
        GradientCheck().check(TokenPooling(), inputShape: [2, 3, 4])
    }

    /// Token ids are not differentiable, so the table gradients are checked directly: L = Σ y ⊙ R is
    /// linear in the tables, and central differences must match the scattered gradient everywhere.
    func testEmbeddingGradients() {
        let ctx = ExecutionContext()
        let embed = Embedding("embed", 5, 3, 4)
        let store = bind(embed, ctx)
        var rng = RandomSource(seed: 3)
        embed.initialize(using: &rng)
        XCTAssertEqual(try embed.outputShape(for: [4]), [4, 3])
        XCTAssertThrowsError(try embed.outputShape(for: [5]), "longer than the position table")
        let x = Tensor([0, 4, 4, 1, 3, 0, 4, 4], shape: [2, 4], context: ctx)
        let y = embed(x)
        XCTAssertEqual(y.shape, [2, 4, 3])
        let r = Tensor(shape: y.shape, context: ctx)
        for i in 0..<r.count { r.data[i] = rng.nextNormal() }
        func loss() -> Double {
            let y = embed(x)
            return (0..<y.count).reduce(0) { $0 + Double(y.data[$1]) * Double(r.data[$1]) }
        }
        store.zeroGradients()
        _ = embed(x)
        XCTAssertNil(embed.backward(r), "token ids have no gradient")
        let eps: Float = 1e-2
        for p in embed.parameters {
            for i in 0..<p.count {
                let saved = p.value.data[i]
                p.value.data[i] = saved + eps
                let lp = loss()
                p.value.data[i] = saved - eps
                let lm = loss()
                p.value.data[i] = saved
                let numeric = Float((lp - lm) / Double(2 * eps))
                XCTAssertEqual(p.grad.data[i], numeric, accuracy: 1e-3, "\(p.name)[\(i)]")
            }
        }
        // Token 4 appears three times, token 2 never: its row gets no gradient.
        XCTAssertEqual(Array(embed.tokens.grad.array[6..<9]), [0, 0, 0])
    }

    func testEmbeddingAddsTokenAndPosition() {
        let ctx = ExecutionContext()
        let embed = Embedding("embed", 3, 2, 2)
        _ = bind(embed, ctx)
        for (i, v) in [Float](arrayLiteral: 1, 2, 3, 4, 5, 6).enumerated() { embed.tokens.value.data[i] = v }
        for (i, v) in [Float](arrayLiteral: 10, 20, 30, 40).enumerated() { embed.positions.value.data[i] = v }
        let y = embed(Tensor([2, 0], shape: [1, 2], context: ctx))
        XCTAssertEqual(y.array, [15, 26, 31, 42])
    }

    // MARK: Attention semantics

    /// One head, W_qkv = [I; I; I], W_o = I, zero biases: Q = K = V = x and the output is
    /// softmax(x·xᵀ/√2)·x. With x = [[1, 0], [0, 1]] the scores are diag(a), a = 1/√2, so row 0 mixes
    /// with weights σ(a), 1 − σ(a); causally row 0 sees only itself and row 1 sees [0, a].
    func testAttentionMatchesHandWorkedExample() throws {
        let a = 1 / Float(2).squareRoot()
        let s = 1 / (1 + Foundation.exp(-a))      // e^a / (e^a + e^0)
        let expected: [Bool: [Float]] = [false: [s, 1 - s, 1 - s, s], true: [1, 0, 1 - s, s]]
        for causal in [false, true] {
            let ctx = ExecutionContext()
            let attn = try MultiHeadSelfAttention("attn", 2, 1, causal: causal)
            _ = bind(attn, ctx)
            let w = attn.qkvWeight.value.data
            for block in 0..<3 { w[block * 4] = 1; w[block * 4 + 3] = 1 }
            attn.outputWeight.value.data[0] = 1
            attn.outputWeight.value.data[3] = 1
            let y = attn(Tensor([1, 0, 0, 1], shape: [1, 2, 2], context: ctx))
            for (got, want) in zip(y.array, expected[causal]!) {
                XCTAssertEqual(got, want, accuracy: 1e-6, "causal \(causal)")
            }
        }
    }

    /// Changing tokens after t leaves every output at positions ≤ t unchanged, through a whole block.
    func testCausalMaskHidesTheFuture() throws {
        let ctx = ExecutionContext()
        let block = try TransformerBlock("block", 8, 2, mlpRatio: 2, causal: true, seed: 1)
        let store = bind(block, ctx)
        var rng = RandomSource(seed: 11)
        block.initialize(using: &rng)
        for i in 0..<store.count { store.values.data[i] += 0.1 * rng.nextNormal() }
        let steps = 6, d = 8, t = 2
        let x = Tensor(shape: [1, steps, d], context: ctx)
        for i in 0..<x.count { x.data[i] = rng.nextNormal() }
        let before = block(x).array
        for i in ((t + 1) * d)..<x.count { x.data[i] += 1 + rng.nextNormal() }
        let after = block(x).array
        for i in 0..<((t + 1) * d) { XCTAssertEqual(after[i], before[i], accuracy: 1e-6, "output \(i) saw the future") }
        XCTAssertNotEqual(Array(after[((t + 1) * d)...]), Array(before[((t + 1) * d)...]))
    }

    /// The per-(batch, head) loop gives the same numbers on one thread and on two.
    func testAttentionIsTheSameOnTwoThreads() throws {
        let saved = EngineThreads.count
        defer { EngineThreads.set(saved) }
        var results: [[Float]] = []
        for threads in [1, 2] {
            EngineThreads.set(threads)
            let ctx = ExecutionContext()
            let attn = try MultiHeadSelfAttention("attn", 64, 4, causal: true)
            let store = bind(attn, ctx)
            var rng = RandomSource(seed: 5)
            attn.initialize(using: &rng)
            let x = Tensor(shape: [2, 64, 64], context: ctx)
            for i in 0..<x.count { x.data[i] = rng.nextNormal() }
            let y = attn(x, training: true)
            let dy = Tensor(shape: y.shape, context: ctx)
            for i in 0..<dy.count { dy.data[i] = rng.nextNormal() }
            let dx = attn.backward(dy)!
            results.append(y.array + dx.array + store.grads.array)
        }
        // OpenBLAS may round the large projections differently on two threads; the heads must agree.
        let worst = zip(results[0], results[1]).map { abs($0 - $1) / max(1, abs($0)) }.max() ?? 0
        XCTAssertLessThan(worst, 1e-5, "one and two threads differ by up to \(worst)")
    }

    /// Residual dropout sits after the attention projection and after the MLP; in evaluation the
    /// block is the same function as one without dropout.
    func testTransformerBlockDropout() throws {
        let ctx = ExecutionContext()
        let plain = try TransformerBlock("block", 8, 2, mlpRatio: 2, causal: false, seed: 1)
        let dropped = try TransformerBlock("block", 8, 2, mlpRatio: 2, causal: false, dropout: 0.5, seed: 1)
        let residuals = dropped.body.layers.compactMap { $0 as? Residual }
        XCTAssertEqual(residuals.map { $0.body.layers.last is Dropout }, [true, true])
        XCTAssertEqual(plain.parameters.map(\.name), dropped.parameters.map(\.name))
        for block in [plain, dropped] {
            _ = bind(block, ctx)
            var rng = RandomSource(seed: 4)
            block.initialize(using: &rng)
        }
        let x = Tensor(shape: [2, 3, 8], context: ctx)
        var rng = RandomSource(seed: 9)
        for i in 0..<x.count { x.data[i] = rng.nextNormal() }
        XCTAssertEqual(plain(x).array, dropped(x).array)
        XCTAssertNotEqual(plain(x, training: true).array, dropped(x, training: true).array)
    }

    func testShapeErrors() {
        XCTAssertThrowsError(try MultiHeadSelfAttention("attn", 10, 3, causal: false)) { error in
            XCTAssertEqual(error as? ShapeError, ShapeError("attn", "3 heads do not divide dimension 10"))
        }
        XCTAssertThrowsError(try PatchEmbedding("patches", imageSize: (6, 8), 3, 4, 16)) { error in
            XCTAssertEqual(error as? ShapeError, ShapeError("patches", "patch 4 does not divide the image size 6×8"))
        }
        XCTAssertThrowsError(try TransformerBlock("block", 10, 4, mlpRatio: 4, causal: false, seed: 1))
        XCTAssertThrowsError(try LayerNorm("ln", 4).outputShape(for: [3, 5]))
    }

    // MARK: Cost seam

    /// QKV 2·B·T·d·3d + scores 2·B·T·T·d + P·V 2·B·T·T·d + output 2·B·T·d·d, biases apart; backward
    /// charges every product twice.
    func testAttentionMatmulFlopsMatchTheStandardCount() throws {
        let (b, t, d) = (2.0, 5.0, 8.0)
        let forward = 2 * b * t * d * 3 * d + 2 * b * t * t * d + 2 * b * t * t * d + 2 * b * t * d * d
        for causal in [false, true] {
            let ctx = ExecutionContext(recordsEvents: true)
            let attn = try MultiHeadSelfAttention("attn", 8, 2, causal: causal)
            _ = bind(attn, ctx)
            let x = Tensor(shape: [2, 5, 8], context: ctx)
            let y = attn(x, training: true)
            XCTAssertEqual(ctx.summary.flops(.matmul), forward)
            XCTAssertEqual(ctx.events.filter { $0.kind == .matmul }.map(\.flops),
                           [2 * b * t * d * 3 * d, 2 * b * t * t * d, 2 * b * t * t * d, 2 * b * t * d * d])
            XCTAssertEqual(ctx.summary.flops(.softmax), 5 * b * 2 * t * t)
            ctx.resetCounters()
            ctx.phase = .backward
            _ = attn.backward(y)
            XCTAssertEqual(ctx.summary.flops(.matmul), 2 * forward)
        }
    }

    /// A small ViT and a small GPT traced forward and backward in both modes record the same work and
    /// the same peak memory; the meta run holds no numbers (reading one would trap).
    func testMetaModeRecordsWhatRealModeDoes() throws {
        let vit: () throws -> (Layer, [Int]) = {
            (Sequential("vit", [try PatchEmbedding("patches", imageSize: (8, 8), 3, 4, 16),
                                try TransformerBlock("block", 16, 4, mlpRatio: 4, causal: false, seed: 1),
                                LayerNorm("ln_f", 16), TokenPooling()]), [2, 8, 8, 3])
        }
        let gpt: () throws -> (Layer, [Int]) = {
            (Sequential("gpt", [Embedding("embed", 11, 16, 6),
                                try TransformerBlock("block", 16, 2, mlpRatio: 4, causal: true,
                                                     dropout: 0.1, seed: 2)]), [2, 6])
        }
        for build in [vit, gpt] {
            var summaries: [TraceSummary] = []
            for mode in [ExecutionContext.Mode.real, .meta] {
                let (model, shape) = try build()
                let ctx = ExecutionContext(mode: mode)
                _ = bind(model, ctx)
                var rng = RandomSource(seed: 1)
                model.initialize(using: &rng)
                let x = Tensor(shape: shape, context: ctx)       // token id 0 everywhere in real mode
                model.needsInputGradient = shape.count > 2
                ctx.resetCounters()
                let y = model(x, training: true)
                ctx.phase = .backward
                let dx = model.backward(y)
                if mode == .meta {
                    XCTAssertTrue(y.array.isEmpty && y.count > 0, "meta output holds data")
                    XCTAssertTrue(dx?.array.isEmpty ?? true, "meta gradient holds data")
                }
                summaries.append(ctx.summary)
            }
            XCTAssertEqual(summaries[0], summaries[1])
            XCTAssertGreaterThan(summaries[1].flops(.matmul), 0)
        }
    }

    /// One GPT-3 175B layer (d 12288, 96 heads, T 2048, batch 1) traces in meta mode without storage,
    /// charging 24·B·T·d² + 4·B·T²·d matmul FLOPs forward (Narayanan et al. 2021) and twice that backward.
    func testMetaModeTracesAGPT3Layer() throws {
        let (d, t) = (12_288, 2048)
        let start = Date()
        let ctx = ExecutionContext(mode: .meta)
        let block = try TransformerBlock("h0", d, 96, mlpRatio: 4, causal: true, seed: 1)
        let store = bind(block, ctx)
        var rng = RandomSource(seed: 0)
        block.initialize(using: &rng)
        let x = Tensor(shape: [1, t, d], context: ctx)
        let y = block(x, training: true)
        ctx.phase = .backward
        let dx = block.backward(y)
        let seconds = Date().timeIntervalSince(start)

        XCTAssertEqual(store.parameterCount, 12 * d * d + 13 * d)
        XCTAssertTrue(store.values.array.isEmpty && y.array.isEmpty && (dx?.array.isEmpty ?? false))
        let (fd, ft) = (Double(d), Double(t))
        let forward = 24 * ft * fd * fd + 4 * ft * ft * fd
        XCTAssertEqual(ctx.summary.flops(.matmul), 3 * forward)
        XCTAssertLessThan(seconds, 1, "meta trace of one GPT-3 layer took \(seconds) s")
    }
}
