import Dispatch
import Foundation

/// Multi-head scaled dot-product self-attention (Vaswani et al. 2017), optionally causal (GPT).
///
///     let attn = try MultiHeadSelfAttention("attn", 64, 4, causal: true)
///     let y = attn(x)                      // (batch, T, 64) → (batch, T, 64)
///
/// One projection makes Q, K and V: qkv = x·Wᵀ + b with W (3d, d) — rows 0..<d are Q, d..<2d K,
/// 2d..<3d V, and inside each the head h owns rows h·d_h..<(h+1)·d_h (the layout a tensor-parallel
/// split by heads cuts). Per (batch, head): S = Q·Kᵀ/√d_h, a causal mask sets S[i, j>i] = −∞, P is
/// the row softmax, context = P·V; then out = context·W_oᵀ + b_o. Q, K and V are read in place from
/// the (batch, T, 3d) projection with a leading dimension of 3d, so no transposes are materialised.
///
/// A tensor-parallel shard (Megatron-LM, Shoeybi et al. 2019) keeps `heads` of the model's heads:
/// give `headDimension`, and the projections shrink to an inner width e = heads · d_h — qkv W (3e, d)
/// and W_o (d, e) — while the input and output stay d wide. Without `projectionBias` the output
/// projection adds no bias (the shards' partial outputs are summed; one of them adds it).
///
/// Cost accounting: the four products are recorded as `.matmul` with exactly the standard FLOPs —
/// QKV 2·B·T·d·3d, scores 2·B·T·T·d, P·V 2·B·T·T·d, output 2·B·T·d·d — and the bias adds as
/// separate `.elementwise` ops. A causal model is charged the full T×T (Narayanan et al. 2021).
/// The softmax (`.softmax`) is charged 5 FLOPs per score (max, subtract, exp, sum, divide).
public final class MultiHeadSelfAttention: Layer {
    public let name: String
    public let dimension: Int
    public let heads: Int
    public let headDimension: Int
    /// heads · headDimension: the width of Q, K, V and the context (d unless this is a shard).
    public let innerDimension: Int
    public let causal: Bool
    public let qkvWeight: Parameter       // (3e, d)
    public let qkvBias: Parameter         // (3e)
    public let outputWeight: Parameter    // (d, e)
    public let outputBias: Parameter?     // (d)
    public var needsInputGradient = true

    private var input: Tensor?            // (batch, T, d), the caller's
    private var qkv: Tensor?              // (batch, T, 3e)
    private var probabilities: Tensor?    // (batch, heads, T, T)
    private var context: Tensor?          // (batch, T, e)
    private var out: Tensor?              // (batch, T, d)
    private var dContext: Tensor?         // (batch, T, e)
    private var dScores: Tensor?          // (batch, heads, T, T)
    private var dQKV: Tensor?             // (batch, T, 3e)
    private var dx: Tensor?               // (batch, T, d)

    static let softmaxFlopsPerScore = 5.0
    /// Backward of a row softmax: a dot product and a scaled subtraction per score.
    static let softmaxGradientFlopsPerScore = 4.0
    /// Per-head products with m·n·k below this run on one OpenBLAS thread (see `forEachHead`).
    static let blasSingleThreadLimit = 262_144

    /// - Parameters:
    ///   - headDimension: the width of one head; nil for dimension / heads (a whole layer).
    ///   - projectionBias: whether the output projection adds a bias.
    /// - Throws: `ShapeError` when `heads` does not divide `dimension` (and no `headDimension` is given).
    public init(_ name: String = "attention", _ dimension: Int, _ heads: Int, causal: Bool,
                headDimension: Int? = nil, projectionBias: Bool = true) throws {
        guard dimension > 0, heads > 0, (headDimension ?? 1) > 0 else {
            throw ShapeError(name, "dimension \(dimension), heads \(heads) and head dimension \(headDimension ?? 1) must be positive")
        }
        guard headDimension != nil || dimension % heads == 0 else {
            throw ShapeError(name, "\(heads) heads do not divide dimension \(dimension)")
        }
        self.name = name
        self.dimension = dimension
        self.heads = heads
        self.headDimension = headDimension ?? dimension / heads
        self.innerDimension = heads * self.headDimension
        self.causal = causal
        let e = innerDimension
        qkvWeight = Parameter(name + ".qkv.weight", shape: [3 * e, dimension], decays: true)
        qkvBias = Parameter(name + ".qkv.bias", shape: [3 * e], decays: false)
        outputWeight = Parameter(name + ".proj.weight", shape: [dimension, e], decays: true)
        outputBias = projectionBias ? Parameter(name + ".proj.bias", shape: [dimension], decays: false) : nil
    }

    public var parameters: [Parameter] { [qkvWeight, qkvBias, outputWeight] + (outputBias.map { [$0] } ?? []) }

    public func outputShape(for input: [Int]) throws -> [Int] {
        guard input.count == 2, input[1] == dimension else {
            throw ShapeError(name, "expects (T, \(dimension)) per sample, got \(input)")
        }
        return input
    }

    /// As PyTorch's `nn.MultiheadAttention`: the (3d, d) input projection Xavier-uniform, the output
    /// projection uniform in ±1/√d, both biases zero.
    public func initialize(using rng: inout RandomSource) {
        fillUniform(qkvWeight.value, bound: (6 / Float(4 * dimension)).squareRoot(), &rng)
        fillUniform(outputWeight.value, bound: 1 / Float(innerDimension).squareRoot(), &rng)
        qkvBias.value.fill(0)
        outputBias?.value.fill(0)
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let c = x.context
        precondition(x.shape.count == 3 && x.shape[2] == dimension,
                     "\(name): expects (batch, T, \(dimension)), got \(x.shape)")
        let batch = x.shape[0], steps = x.shape[1], d = dimension, e = innerDimension, rows = batch * steps
        let q = c.buffer(qkv, [batch, steps, 3 * e]); qkv = q
        let p = c.buffer(probabilities, [batch, heads, steps, steps]); probabilities = p
        let ctxt = c.buffer(context, [batch, steps, e]); context = ctxt
        let o = c.buffer(out, [batch, steps, d]); out = o
        input = x
        let bt = Double(rows), te = Double(steps) * Double(e), scores = Double(p.count)
        c.record(name + ".qkv", .matmul, flops: 2 * bt * Double(d) * Double(3 * e),
                 read: Double(x.count + qkvWeight.count), written: Double(q.count))
        c.record(name + ".qkv.bias", .elementwise, flops: Double(q.count), read: Double(q.count + 3 * e), written: Double(q.count))
        c.record(name + ".scores", .matmul, flops: 2 * bt * te, read: Double(2 * rows * e), written: scores)
        c.record(name + ".softmax", .softmax, flops: Self.softmaxFlopsPerScore * scores, read: scores, written: scores)
        c.record(name + ".context", .matmul, flops: 2 * bt * te, read: scores + Double(rows * e), written: Double(ctxt.count))
        c.record(name + ".proj", .matmul, flops: 2 * bt * Double(d) * Double(e),
                 read: Double(ctxt.count + outputWeight.count), written: Double(o.count))
        if outputBias != nil {
            c.record(name + ".proj.bias", .elementwise, flops: Double(o.count), read: Double(o.count + d), written: Double(o.count))
        }
        guard !c.isMeta else { return o }

        // qkv (rows, 3e) = x (rows, d) · Wᵀ (d, 3e) + b
        sgemm(transB: true, m: rows, n: 3 * e, k: d, x.data, lda: d, qkvWeight.value.data, ldb: d, q.data, ldc: 3 * e)
        addRowVector(qkvBias.value.data, to: q.data, rows: rows, columns: 3 * e)
        let dh = headDimension, scale = 1 / Float(dh).squareRoot(), isCausal = causal
        let qkvData = q.data, pData = p.data, cData = ctxt.data
        forEachHead(batch: batch, steps: steps) { b, h in
            let qh = qkvData + b * steps * 3 * e + h * dh, kh = qh + e, vh = qh + 2 * e
            let ph = pData + (b * self.heads + h) * steps * steps
            // S (T, T) = Q (T, dh) · Kᵀ (dh, T) / √dh
            sgemm(transB: true, m: steps, n: steps, k: dh, alpha: scale, qh, lda: 3 * e, kh, ldb: 3 * e, ph, ldc: steps)
            softmaxRows(ph, rows: steps, causal: isCausal)
            // context (T, dh) = P (T, T) · V (T, dh), written into columns h·dh..<(h+1)·dh
            sgemm(m: steps, n: dh, k: steps, ph, lda: steps, vh, ldb: 3 * e, cData + b * steps * e + h * dh, ldc: e)
        }
        // out (rows, d) = context (rows, e) · W_oᵀ (e, d) + b_o
        sgemm(transB: true, m: rows, n: d, k: e, cData, lda: e, outputWeight.value.data, ldb: e, o.data, ldc: d)
        if let bias = outputBias { addRowVector(bias.value.data, to: o.data, rows: rows, columns: d) }
        return o
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        guard let x = input, let q = qkv, let p = probabilities, let ctxt = context else {
            preconditionFailure("\(name): backward before forward")
        }
        let c = dy.context
        let batch = x.shape[0], steps = x.shape[1], d = dimension, e = innerDimension, rows = batch * steps
        let gc = c.buffer(dContext, [batch, steps, e]); dContext = gc
        let gs = c.buffer(dScores, [batch, heads, steps, steps]); dScores = gs
        let gq = c.buffer(dQKV, [batch, steps, 3 * e]); dQKV = gq
        let bt = Double(rows), te = Double(steps) * Double(e), scores = Double(p.count)
        let de = Double(d) * Double(e)
        c.record(name + ".proj.dW", .matmul, flops: 2 * bt * de, read: Double(dy.count + ctxt.count), written: de)
        if outputBias != nil {
            c.record(name + ".proj.bias.grad", .elementwise, flops: Double(dy.count), read: Double(dy.count), written: Double(d))
        }
        c.record(name + ".proj.dX", .matmul, flops: 2 * bt * de, read: Double(dy.count) + de, written: Double(gc.count))
        c.record(name + ".context.dV", .matmul, flops: 2 * bt * te, read: scores + Double(gc.count), written: Double(rows * e))
        c.record(name + ".context.dP", .matmul, flops: 2 * bt * te, read: Double(gc.count + rows * e), written: scores)
        c.record(name + ".softmax.grad", .softmax, flops: Self.softmaxGradientFlopsPerScore * scores, read: 2 * scores, written: scores)
        c.record(name + ".scores.dQ", .matmul, flops: 2 * bt * te, read: scores + Double(rows * e), written: Double(rows * e))
        c.record(name + ".scores.dK", .matmul, flops: 2 * bt * te, read: scores + Double(rows * e), written: Double(rows * e))
        c.record(name + ".qkv.dW", .matmul, flops: 2 * bt * 3 * de, read: Double(gq.count + x.count), written: 3 * de)
        c.record(name + ".qkv.bias.grad", .elementwise, flops: Double(gq.count), read: Double(gq.count), written: Double(3 * e))
        var g: Tensor?
        if needsInputGradient {
            g = c.buffer(dx, x.shape); dx = g
            c.record(name + ".qkv.dX", .matmul, flops: 2 * bt * 3 * de, read: Double(gq.count) + 3 * de, written: Double(x.count))
        }
        guard !c.isMeta else { return g }

        // dW_o (d, e) += dYᵀ · context; db_o += Σ dY; dContext (rows, e) = dY · W_o
        sgemm(transA: true, m: d, n: e, k: rows, dy.data, lda: d, ctxt.data, ldb: e, beta: 1, outputWeight.grad.data, ldc: e)
        if let bias = outputBias { accumulateColumnSums(dy.data, rows: rows, columns: d, into: bias.grad.data) }
        sgemm(m: rows, n: e, k: d, dy.data, lda: d, outputWeight.value.data, ldb: e, gc.data, ldc: e)

        let dh = headDimension, scale = 1 / Float(dh).squareRoot()
        let qkvData = q.data, pData = p.data, gcData = gc.data, gsData = gs.data, gqData = gq.data
        forEachHead(batch: batch, steps: steps) { b, h in
            let offset = b * steps * 3 * e + h * dh
            let qh = qkvData + offset, kh = qh + e, vh = qh + 2 * e
            let dq = gqData + offset, dk = dq + e, dv = dq + 2 * e
            let ph = pData + (b * self.heads + h) * steps * steps
            let dsh = gsData + (b * self.heads + h) * steps * steps
            let dch = gcData + b * steps * e + h * dh
            // dV (T, dh) = Pᵀ (T, T) · dContext (T, dh)
            sgemm(transA: true, m: steps, n: dh, k: steps, ph, lda: steps, dch, ldb: e, dv, ldc: 3 * e)
            // dP (T, T) = dContext (T, dh) · Vᵀ (dh, T)
            sgemm(transB: true, m: steps, n: steps, k: dh, dch, lda: e, vh, ldb: 3 * e, dsh, ldc: steps)
            softmaxBackwardRows(probabilities: ph, gradient: dsh, rows: steps)
            // dQ (T, dh) = dS · K / √dh; dK (T, dh) = dSᵀ · Q / √dh
            sgemm(m: steps, n: dh, k: steps, alpha: scale, dsh, lda: steps, kh, ldb: 3 * e, dq, ldc: 3 * e)
            sgemm(transA: true, m: steps, n: dh, k: steps, alpha: scale, dsh, lda: steps, qh, ldb: 3 * e, dk, ldc: 3 * e)
        }

        // dW (3e, d) += dQKVᵀ · x; db += Σ dQKV; dX (rows, d) = dQKV · W
        sgemm(transA: true, m: 3 * e, n: d, k: rows, gqData, lda: 3 * e, x.data, ldb: d, beta: 1, qkvWeight.grad.data, ldc: d)
        accumulateColumnSums(gqData, rows: rows, columns: 3 * e, into: qkvBias.grad.data)
        if let g {
            sgemm(m: rows, n: d, k: 3 * e, gqData, lda: 3 * e, qkvWeight.value.data, ldb: d, g.data, ldc: d)
        }
        return g
    }

    /// Run `body(b, h)` for every (batch, head) pair. Pairs touch disjoint memory, so they are split
    /// over the engine's threads, but only while each per-head product is small enough that OpenBLAS
    /// runs it on one thread (m·n·k below 65 536 × GEMM_MULTITHREAD_THRESHOLD = 262 144 by default).
    /// Larger products stay on the calling thread and OpenBLAS threads each one itself: two Dispatch
    /// threads both driving OpenBLAS's two-thread pool measured up to 14× slower (batch 8, T 128,
    /// d 256, 8 heads: 824 ms against 59 ms for forward + backward on one thread).
    private func forEachHead(batch: Int, steps: Int, _ body: (Int, Int) -> Void) {
        let pairs = batch * heads
        let productSize = steps * steps * headDimension
        guard productSize < Self.blasSingleThreadLimit else {
            for i in 0..<pairs { body(i / heads, i % heads) }
            return
        }
        // At least ~2^18 FLOPs of products per thread, or the fan-out costs more than it saves.
        parallelRanges(pairs, minimumPerThread: max(1, (1 << 16) / max(productSize, 1))) { range in
            for i in range { body(i / self.heads, i % self.heads) }
        }
    }
}

/// Row softmax of a (rows, rows) score matrix in place; with `causal`, entries above the diagonal
/// count as −∞ and come out exactly 0.
private func softmaxRows(_ s: UnsafeMutablePointer<Float>, rows: Int, causal: Bool) {
    for i in 0..<rows {
        let row = s + i * rows
        let visible = causal ? i + 1 : rows
        var m = row[0]
        for j in 1..<visible where row[j] > m { m = row[j] }
        var sum: Float = 0
        for j in 0..<visible {
            let e = Foundation.exp(row[j] - m)
            row[j] = e
            sum += e
        }
        let inv = 1 / sum
        for j in 0..<visible { row[j] *= inv }
        if visible < rows { (row + visible).update(repeating: 0, count: rows - visible) }
    }
}

/// In place: dS = P ⊙ (dP − rowsum(P ⊙ dP)), the softmax Jacobian applied to each row. Masked
/// entries have P = 0 and get dS = 0.
private func softmaxBackwardRows(probabilities p: UnsafePointer<Float>, gradient g: UnsafeMutablePointer<Float>, rows: Int) {
    for i in 0..<rows {
        let pr = p + i * rows, gr = g + i * rows
        var dot: Float = 0
        for j in 0..<rows { dot += pr[j] * gr[j] }
        for j in 0..<rows { gr[j] = pr[j] * (gr[j] - dot) }
    }
}
