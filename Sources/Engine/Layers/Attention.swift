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
/// Cost accounting: the four products are recorded as `.matmul` with exactly the standard FLOPs —
/// QKV 2·B·T·d·3d, scores 2·B·T·T·d, P·V 2·B·T·T·d, output 2·B·T·d·d — and the bias adds as
/// separate `.elementwise` ops. A causal model is charged the full T×T (Narayanan et al. 2021).
/// The softmax (`.softmax`) is charged 5 FLOPs per score (max, subtract, exp, sum, divide).
public final class MultiHeadSelfAttention: Layer {
    public let name: String
    public let dimension: Int
    public let heads: Int
    public let headDimension: Int
    public let causal: Bool
    public let qkvWeight: Parameter       // (3d, d)
    public let qkvBias: Parameter         // (3d)
    public let outputWeight: Parameter    // (d, d)
    public let outputBias: Parameter      // (d)
    public var needsInputGradient = true

    private var input: Tensor?            // (batch, T, d), the caller's
    private var qkv: Tensor?              // (batch, T, 3d)
    private var probabilities: Tensor?    // (batch, heads, T, T)
    private var context: Tensor?          // (batch, T, d)
    private var out: Tensor?              // (batch, T, d)
    private var dContext: Tensor?         // (batch, T, d)
    private var dScores: Tensor?          // (batch, heads, T, T)
    private var dQKV: Tensor?             // (batch, T, 3d)
    private var dx: Tensor?               // (batch, T, d)

    static let softmaxFlopsPerScore = 5.0
    /// Backward of a row softmax: a dot product and a scaled subtraction per score.
    static let softmaxGradientFlopsPerScore = 4.0
    /// Per-head products with m·n·k below this run on one OpenBLAS thread (see `forEachHead`).
    static let blasSingleThreadLimit = 262_144

    /// Throws `ShapeError` when `heads` does not divide `dimension`.
    public init(_ name: String = "attention", _ dimension: Int, _ heads: Int, causal: Bool) throws {
        guard dimension > 0, heads > 0 else {
            throw ShapeError(name, "dimension \(dimension) and heads \(heads) must be positive")
        }
        guard dimension % heads == 0 else {
            throw ShapeError(name, "\(heads) heads do not divide dimension \(dimension)")
        }
        self.name = name
        self.dimension = dimension
        self.heads = heads
        self.headDimension = dimension / heads
        self.causal = causal
        qkvWeight = Parameter(name + ".qkv.weight", shape: [3 * dimension, dimension], decays: true)
        qkvBias = Parameter(name + ".qkv.bias", shape: [3 * dimension], decays: false)
        outputWeight = Parameter(name + ".proj.weight", shape: [dimension, dimension], decays: true)
        outputBias = Parameter(name + ".proj.bias", shape: [dimension], decays: false)
    }

    public var parameters: [Parameter] { [qkvWeight, qkvBias, outputWeight, outputBias] }

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
        fillUniform(outputWeight.value, bound: 1 / Float(dimension).squareRoot(), &rng)
        qkvBias.value.fill(0)
        outputBias.value.fill(0)
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let c = x.context
        precondition(x.shape.count == 3 && x.shape[2] == dimension,
                     "\(name): expects (batch, T, \(dimension)), got \(x.shape)")
        let batch = x.shape[0], steps = x.shape[1], d = dimension, rows = batch * steps
        let q = c.buffer(qkv, [batch, steps, 3 * d]); qkv = q
        let p = c.buffer(probabilities, [batch, heads, steps, steps]); probabilities = p
        let ctxt = c.buffer(context, [batch, steps, d]); context = ctxt
        let o = c.buffer(out, [batch, steps, d]); out = o
        input = x
        let bt = Double(rows), td = Double(steps) * Double(d), scores = Double(p.count)
        c.record(name + ".qkv", .matmul, flops: 2 * bt * Double(d) * Double(3 * d),
                 read: Double(x.count + qkvWeight.count), written: Double(q.count))
        c.record(name + ".qkv.bias", .elementwise, flops: Double(q.count), read: Double(q.count + 3 * d), written: Double(q.count))
        c.record(name + ".scores", .matmul, flops: 2 * bt * td, read: Double(2 * rows * d), written: scores)
        c.record(name + ".softmax", .softmax, flops: Self.softmaxFlopsPerScore * scores, read: scores, written: scores)
        c.record(name + ".context", .matmul, flops: 2 * bt * td, read: scores + Double(rows * d), written: Double(ctxt.count))
        c.record(name + ".proj", .matmul, flops: 2 * bt * Double(d) * Double(d),
                 read: Double(ctxt.count + outputWeight.count), written: Double(o.count))
        c.record(name + ".proj.bias", .elementwise, flops: Double(o.count), read: Double(o.count + d), written: Double(o.count))
        guard !c.isMeta else { return o }

        // qkv (rows, 3d) = x (rows, d) · Wᵀ (d, 3d) + b
        sgemm(transB: true, m: rows, n: 3 * d, k: d, x.data, lda: d, qkvWeight.value.data, ldb: d, q.data, ldc: 3 * d)
        addRowVector(qkvBias.value.data, to: q.data, rows: rows, columns: 3 * d)
        let dh = headDimension, scale = 1 / Float(dh).squareRoot(), isCausal = causal
        let qkvData = q.data, pData = p.data, cData = ctxt.data
        forEachHead(batch: batch, steps: steps) { b, h in
            let qh = qkvData + b * steps * 3 * d + h * dh, kh = qh + d, vh = qh + 2 * d
            let ph = pData + (b * self.heads + h) * steps * steps
            // S (T, T) = Q (T, dh) · Kᵀ (dh, T) / √dh
            sgemm(transB: true, m: steps, n: steps, k: dh, alpha: scale, qh, lda: 3 * d, kh, ldb: 3 * d, ph, ldc: steps)
            softmaxRows(ph, rows: steps, causal: isCausal)
            // context (T, dh) = P (T, T) · V (T, dh), written into columns h·dh..<(h+1)·dh
            sgemm(m: steps, n: dh, k: steps, ph, lda: steps, vh, ldb: 3 * d, cData + b * steps * d + h * dh, ldc: d)
        }
        // out (rows, d) = context (rows, d) · W_oᵀ (d, d) + b_o
        sgemm(transB: true, m: rows, n: d, k: d, cData, lda: d, outputWeight.value.data, ldb: d, o.data, ldc: d)
        addRowVector(outputBias.value.data, to: o.data, rows: rows, columns: d)
        return o
    }

    public func backward(_ dy: Tensor) -> Tensor? {
        guard let x = input, let q = qkv, let p = probabilities, let ctxt = context else {
            preconditionFailure("\(name): backward before forward")
        }
        let c = dy.context
        let batch = x.shape[0], steps = x.shape[1], d = dimension, rows = batch * steps
        let gc = c.buffer(dContext, [batch, steps, d]); dContext = gc
        let gs = c.buffer(dScores, [batch, heads, steps, steps]); dScores = gs
        let gq = c.buffer(dQKV, [batch, steps, 3 * d]); dQKV = gq
        let bt = Double(rows), td = Double(steps) * Double(d), scores = Double(p.count)
        let dd = Double(d) * Double(d)
        c.record(name + ".proj.dW", .matmul, flops: 2 * bt * dd, read: Double(dy.count + ctxt.count), written: dd)
        c.record(name + ".proj.bias.grad", .elementwise, flops: Double(dy.count), read: Double(dy.count), written: Double(d))
        c.record(name + ".proj.dX", .matmul, flops: 2 * bt * dd, read: Double(dy.count) + dd, written: Double(gc.count))
        c.record(name + ".context.dV", .matmul, flops: 2 * bt * td, read: scores + Double(gc.count), written: Double(rows * d))
        c.record(name + ".context.dP", .matmul, flops: 2 * bt * td, read: Double(gc.count + rows * d), written: scores)
        c.record(name + ".softmax.grad", .softmax, flops: Self.softmaxGradientFlopsPerScore * scores, read: 2 * scores, written: scores)
        c.record(name + ".scores.dQ", .matmul, flops: 2 * bt * td, read: scores + Double(rows * d), written: Double(rows * d))
        c.record(name + ".scores.dK", .matmul, flops: 2 * bt * td, read: scores + Double(rows * d), written: Double(rows * d))
        c.record(name + ".qkv.dW", .matmul, flops: 2 * bt * 3 * dd, read: Double(gq.count + x.count), written: 3 * dd)
        c.record(name + ".qkv.bias.grad", .elementwise, flops: Double(gq.count), read: Double(gq.count), written: Double(3 * d))
        var g: Tensor?
        if needsInputGradient {
            g = c.buffer(dx, x.shape); dx = g
            c.record(name + ".qkv.dX", .matmul, flops: 2 * bt * 3 * dd, read: Double(gq.count) + 3 * dd, written: Double(x.count))
        }
        guard !c.isMeta else { return g }

        // dW_o (d, d) += dYᵀ · context; db_o += Σ dY; dContext (rows, d) = dY · W_o
        sgemm(transA: true, m: d, n: d, k: rows, dy.data, lda: d, ctxt.data, ldb: d, beta: 1, outputWeight.grad.data, ldc: d)
        accumulateColumnSums(dy.data, rows: rows, columns: d, into: outputBias.grad.data)
        sgemm(m: rows, n: d, k: d, dy.data, lda: d, outputWeight.value.data, ldb: d, gc.data, ldc: d)

        let dh = headDimension, scale = 1 / Float(dh).squareRoot()
        let qkvData = q.data, pData = p.data, gcData = gc.data, gsData = gs.data, gqData = gq.data
        forEachHead(batch: batch, steps: steps) { b, h in
            let offset = b * steps * 3 * d + h * dh
            let qh = qkvData + offset, kh = qh + d, vh = qh + 2 * d
            let dq = gqData + offset, dk = dq + d, dv = dq + 2 * d
            let ph = pData + (b * self.heads + h) * steps * steps
            let dsh = gsData + (b * self.heads + h) * steps * steps
            let dch = gcData + b * steps * d + h * dh
            // dV (T, dh) = Pᵀ (T, T) · dContext (T, dh)
            sgemm(transA: true, m: steps, n: dh, k: steps, ph, lda: steps, dch, ldb: d, dv, ldc: 3 * d)
            // dP (T, T) = dContext (T, dh) · Vᵀ (dh, T)
            sgemm(transB: true, m: steps, n: steps, k: dh, dch, lda: d, vh, ldb: 3 * d, dsh, ldc: steps)
            softmaxBackwardRows(probabilities: ph, gradient: dsh, rows: steps)
            // dQ (T, dh) = dS · K / √dh; dK (T, dh) = dSᵀ · Q / √dh
            sgemm(m: steps, n: dh, k: steps, alpha: scale, dsh, lda: steps, kh, ldb: 3 * d, dq, ldc: 3 * d)
            sgemm(transA: true, m: steps, n: dh, k: steps, alpha: scale, dsh, lda: steps, qh, ldb: 3 * d, dk, ldc: 3 * d)
        }

        // dW (3d, d) += dQKVᵀ · x; db += Σ dQKV; dX (rows, d) = dQKV · W
        sgemm(transA: true, m: 3 * d, n: d, k: rows, gqData, lda: 3 * d, x.data, ldb: d, beta: 1, qkvWeight.grad.data, ldc: d)
        accumulateColumnSums(gqData, rows: rows, columns: 3 * d, into: qkvBias.grad.data)
        if let g {
            sgemm(m: rows, n: d, k: 3 * d, gqData, lda: 3 * d, qkvWeight.value.data, ldb: d, g.data, ldc: d)
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
