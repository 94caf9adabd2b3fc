import CKernels
import Engine

/// C (m×n, Int32) = A (m×k) · Bᵀ for int8 A (m×k, row-major) and int8 B (n×k, row-major: each
/// output column's k values contiguous), accumulated in 32-bit integers.
///
/// Every product of two int8 values is at most 2¹⁴ in magnitude, so the sums are exact for any
/// codes while k ≤ 2¹⁶. The product runs in the C kernels of `CKernels` (`at_i8_gemm`): B is
/// widened to Int16 in panels of 16 columns and multiplied with 16-bit multiply-adds (`pmaddwd` on
/// AVX2 and AVX-512BW, `vpdpwssd` on AVX-512 VNNI, plain C otherwise) in register tiles, blocked for
/// the caches as in Goto & van de Geijn 2008 ("Anatomy of High-Performance Matrix Multiplication")
/// and shared among `EngineThreads.count` threads. Every kernel set gives the same sums; `kernels`
/// picks one (a supported one). B is packed on every call; the quantized layers keep their weights
/// packed instead.
///
///     // (2×3) · (2×3)ᵀ
///     let a: [Int8] = [1, 2, 3, 4, 5, 6], b: [Int8] = [1, 0, -1, 2, 2, 2]
///     var c = [Int32](repeating: 0, count: 4)
///     int8GEMM(m: 2, n: 2, k: 3, a, lda: 3, b, ldb: 3, &c, ldc: 2)   // c == [-2, 12, -2, 30]
///
/// - Parameters:
///   - m, n, k: rows of A and C, rows of B (columns of C), and the shared depth (≤ 65536).
///   - lda, ldb, ldc: row strides of A, B and C in elements.
///   - kernels: the instruction set to run in (`KernelSet.selected` unless given).
public func int8GEMM(m: Int, n: Int, k: Int, _ a: UnsafePointer<Int8>, lda: Int,
                     _ b: UnsafePointer<Int8>, ldb: Int, _ c: UnsafeMutablePointer<Int32>, ldc: Int,
                     kernels: KernelSet = .selected) {
    precondition(m >= 0 && n >= 0 && k >= 0 && k <= Int8Panels.maximumDepth,
                 "int8GEMM: bad shape m \(m), n \(n), k \(k) (k at most \(Int8Panels.maximumDepth))")
    precondition(lda >= k && ldb >= k && ldc >= n, "int8GEMM: strides lda \(lda), ldb \(ldb), ldc \(ldc) too small")
    guard m > 0, n > 0 else { return }
    precondition(kernels.isSupported, "int8GEMM: kernel set \(kernels.name) is not supported by this CPU")
    let panels = Int8Panels(rows: n, depth: k)
    panels.pack(b, ld: ldb)
    int8Multiply(m: m, a, lda: lda, panels, .sums(c), ldc: ldc, kernels: kernels)
}

/// Σₖ B[j, k] for each of the `rows` rows of int8 B (n×k): the term that turns Σ a·b into
/// Σ (a − z)·b = Σ a·b − z·Σ b when A's codes carry a zero point z.
///
///     int8RowSums(rows: 2, depth: 3, [1, 0, -1, 2, 2, 2], ld: 3)   // [0, 6]
public func int8RowSums(rows: Int, depth: Int, _ b: UnsafePointer<Int8>, ld: Int) -> [Int32] {
    precondition(rows >= 0 && depth >= 0 && ld >= depth, "int8RowSums: bad shape \(rows)×\(depth), ld \(ld)")
    return (0..<rows).map { j in
        var s: Int32 = 0
        for i in 0..<depth { s &+= Int32(b[j * ld + i]) }
        return s
    }
}

/// An int8 matrix (rows × depth) widened to Int16 and laid out the way the C kernels read it:
/// panels of 16 rows, each (depth pairs, 16, 2), zero-padded (see `at_i8_pack`).
final class Int8Panels {
    /// Largest depth whose sums cannot overflow Int32: 2¹⁶ · 2¹⁴ = 2³⁰.
    static let maximumDepth = 1 << 16
    /// Rows per panel.
    static let height = Int(AT_I8_PANEL_COLUMNS)

    let rows: Int, depth: Int
    let storage: UnsafeMutablePointer<Int16>

    init(rows: Int, depth: Int) {
        self.rows = rows; self.depth = depth
        let count = max(1, at_i8_packed_count(Int32(rows), Int32(depth)))
        storage = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Int16>.stride, alignment: 64)
            .bindMemory(to: Int16.self, capacity: count)
    }

    deinit { storage.deallocate() }

    var panels: Int { (rows + Self.height - 1) / Self.height }

    /// Bytes of one panel.
    var panelBytes: Int { (depth + 1) / 2 * Self.height * 2 * MemoryLayout<Int16>.stride }

    /// Widen and lay out the int8 rows of `source` (rows×depth, row stride `ld`).
    func pack(_ source: UnsafePointer<Int8>, ld: Int) {
        at_i8_pack(Int32(rows), Int32(depth), source, ld, storage)
    }
}

/// Where `int8Multiply` writes: the int32 sums, or the floats of the per-column rescale fused into
/// the kernels' store, y[r, c] = Float(sum − offset[c]) · scale[c] (+ bias[c]).
enum Int8Output {
    case sums(UnsafeMutablePointer<Int32>)
    case rescaled(UnsafeMutablePointer<Float>, Int8Rescale)
}

/// The per-column constants of a fused rescale (see `Int8Output`).
struct Int8Rescale {
    var scale: [Float]
    var offset: [Int32]
    var bias: [Float]?

    /// Of the layer form y = sx·sw[c]·(Σ qx·qw − zx·Σ qw[c]) + b[c]: scale sx·sw[c], offset
    /// zx·Σ qw[c] (wrapping: the difference taken in the kernel is exact, as the true value fits).
    init(input: AffineQuantization, weightScales: [Float], weightSums: [Int32], bias: [Float]?) {
        let sx = input.scale[0], zero = input.zeroPoint[0]
        scale = weightScales.map { $0 * sx }
        offset = weightSums.map { $0 &* zero }
        self.bias = bias
    }
}

/// C (m×n) = A · Bᵀ with B already in panels (see `int8GEMM`). Work is split into items of
/// (at most 48 rows × a block of panels that fits the L2 cache), shared among the threads. The row
/// chunks are as even as whole 12-row tiles allow and their count is a multiple of the threads, so
/// a batch of one image's 196 output pixels goes 108 + 88 rows rather than 144 + 52.
func int8Multiply(m: Int, _ a: UnsafePointer<Int8>, lda: Int, _ b: Int8Panels, _ output: Int8Output, ldc: Int,
                  kernels: KernelSet = .selected) {
    let n = b.rows
    guard m > 0, n > 0 else { return }
    let panels = b.panels
    let mostPanels = max(1, (192 << 10) / max(b.panelBytes, 1))
    let columnBlocks = (panels + mostPanels - 1) / mostPanels
    let panelsPerBlock = (panels + columnBlocks - 1) / columnBlocks
    let threads = max(1, EngineThreads.count), tile = 12
    let chunks = ((m + 47) / 48 + threads - 1) / threads * threads
    let rowsPerChunk = ((m + chunks - 1) / chunks + tile - 1) / tile * tile
    let rowChunks = (m + rowsPerChunk - 1) / rowsPerChunk
    let items = columnBlocks * rowChunks
    let small = m * n * max(b.depth, 1) < 1 << 21
    let set = Int32(kernels.rawValue), k = Int32(b.depth), columns = Int32(n)
    func run(_ c: UnsafeMutablePointer<Int32>?, _ y: UnsafeMutablePointer<Float>?, _ rq: UnsafePointer<at_i8_requant>?) {
        parallelRanges(items, minimumPerThread: small ? items : 1) { range in
            for item in range {
                let cb = item / rowChunks, rc = item % rowChunks
                let first = rc * rowsPerChunk, rows = min(m, first + rowsPerChunk) - first
                at_i8_gemm(set, Int32(rows), k, a + first * lda, lda, b.storage, columns,
                           Int32(cb * panelsPerBlock), Int32(min(panels, (cb + 1) * panelsPerBlock)),
                           c.map { $0 + first * ldc }, y.map { $0 + first * ldc }, ldc, rq)
            }
        }
    }
    switch output {
    case .sums(let c):
        run(c, nil, nil)
    case .rescaled(let y, let r):
        precondition(r.scale.count == n && r.offset.count == n && (r.bias?.count ?? n) == n,
                     "int8Multiply: rescale constants for \(r.scale.count) columns, the product has \(n)")
        r.scale.withUnsafeBufferPointer { scale in
            r.offset.withUnsafeBufferPointer { offset in
                func withBias(_ bias: UnsafePointer<Float>?) {
                    var rq = at_i8_requant(scale: scale.baseAddress, offset: offset.baseAddress, bias: bias)
                    withUnsafePointer(to: &rq) { run(nil, y, $0) }
                }
                if let bias = r.bias { bias.withUnsafeBufferPointer { withBias($0.baseAddress) } } else { withBias(nil) }
            }
        }
    }
}
