import Engine

/// C (m×n, Int32) = A (m×k) · Bᵀ for int8 A (m×k, row-major) and int8 B (n×k, row-major: each
/// output column's k values contiguous), accumulated in 32-bit integers.
///
/// Every product of two int8 values is at most 2¹⁴ in magnitude, so the sums are exact for any
/// codes while k ≤ 2¹⁶. The operands are widened to Int16 in packed panels and multiplied with the
/// SIMD pattern that compiles to `pmaddwd` (eight 16-bit products summed pairwise into four 32-bit
/// lanes) in a 6×2 register tile, blocked for the caches as in Goto & van de Geijn 2008 ("Anatomy
/// of High-Performance Matrix Multiplication") and shared among `EngineThreads.count` threads. B is
/// packed on every call; the quantized layers keep their weights packed instead.
///
///     // (2×3) · (2×3)ᵀ
///     let a: [Int8] = [1, 2, 3, 4, 5, 6], b: [Int8] = [1, 0, -1, 2, 2, 2]
///     var c = [Int32](repeating: 0, count: 4)
///     int8GEMM(m: 2, n: 2, k: 3, a, lda: 3, b, ldb: 3, &c, ldc: 2)   // c == [-2, 12, -2, 30]
///
/// - Parameters:
///   - m, n, k: rows of A and C, rows of B (columns of C), and the shared depth (≤ 65536).
///   - lda, ldb, ldc: row strides of A, B and C in elements.
public func int8GEMM(m: Int, n: Int, k: Int, _ a: UnsafePointer<Int8>, lda: Int,
                     _ b: UnsafePointer<Int8>, ldb: Int, _ c: UnsafeMutablePointer<Int32>, ldc: Int) {
    precondition(m >= 0 && n >= 0 && k >= 0 && k <= Int8Panels.maximumDepth,
                 "int8GEMM: bad shape m \(m), n \(n), k \(k) (k at most \(Int8Panels.maximumDepth))")
    precondition(lda >= k && ldb >= k && ldc >= n, "int8GEMM: strides lda \(lda), ldb \(ldb), ldc \(ldc) too small")
    guard m > 0, n > 0 else { return }
    let panels = Int8Panels(rows: n, depth: k, height: Int8Panels.tileColumns)
    panels.pack(b, ld: ldb)
    int8Multiply(m: m, a, lda: lda, panels, c, ldc: ldc)
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

/// An int8 matrix widened to Int16 and laid out the way the `int8GEMM` register tile reads it.
///
/// Rows come in groups of `height` (zero rows pad the last group) and the depth in blocks of at
/// most `blockDepth` values (a multiple of 8, zero-padded). Within a block, a group stores its
/// rows' values 8 at a time side by side: one aligned 16-byte load per row per step.
final class Int8Panels {
    /// Largest depth whose sums cannot overflow Int32: 2¹⁶ · 2¹⁴ = 2³⁰.
    static let maximumDepth = 1 << 16
    /// Output rows and columns of the register tile.
    static let tileRows = 6, tileColumns = 2
    /// Depth of one block: a group of 6 rows (12 KiB) and one of 2 (4 KiB) stay in L1.
    static let blockDepth = 1024

    let rows: Int, depth: Int, height: Int
    /// Depth rounded up to a multiple of 8.
    let paddedDepth: Int
    let groups: Int
    let storage: UnsafeMutablePointer<Int16>

    init(rows: Int, depth: Int, height: Int) {
        self.rows = rows; self.depth = depth; self.height = height
        paddedDepth = (depth + 7) / 8 * 8
        groups = (rows + height - 1) / height
        let count = max(1, groups * height * paddedDepth)
        storage = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Int16>.stride, alignment: 64)
            .bindMemory(to: Int16.self, capacity: count)
    }

    deinit { storage.deallocate() }

    var blocks: Int { (paddedDepth + Self.blockDepth - 1) / Self.blockDepth }

    /// First depth index and padded length of block `kb`.
    @inline(__always)
    func block(_ kb: Int) -> (start: Int, length: Int) {
        let start = kb * Self.blockDepth
        return (start, min(Self.blockDepth, paddedDepth - start))
    }

    /// Group `g` of block `kb`: (length / 8, height, 8) Int16 values.
    @inline(__always)
    func panel(_ g: Int, _ kb: Int) -> UnsafePointer<Int16> {
        let (start, length) = block(kb)
        return UnsafePointer(storage + height * (groups * start + g * length))
    }

    /// Widen and lay out the int8 rows of `source` (rows×depth, row stride `ld`), in parallel.
    func pack(_ source: UnsafePointer<Int8>, ld: Int) {
        parallelRanges(groups, minimumPerThread: max(1, (1 << 18) / max(height * paddedDepth, 1))) { range in
            for g in range {
                for kb in 0..<blocks {
                    let (start, length) = block(kb)
                    packGroup(source, ld: ld, rows: g * height..<min(rows, (g + 1) * height), height: height,
                              depth: start..<min(depth, start + length), length: length,
                              into: storage + height * (groups * start + g * length))
                }
            }
        }
    }
}

/// Write rows `rows` (at most `height`) of int8 `source`, depth range `depth`, widened into one
/// panel of `length` (a multiple of 8) values per row: (length / 8, height, 8), zero-padded.
@inline(__always)
private func packGroup(_ source: UnsafePointer<Int8>, ld: Int, rows: Range<Int>, height: Int, depth: Range<Int>,
                       length: Int, into panel: UnsafeMutablePointer<Int16>) {
    let valid = depth.count, full = valid / 8 * 8
    for r in 0..<height {
        var dst = panel + r * 8
        guard r < rows.count else {
            for _ in 0..<(length / 8) { storeLanes(SIMD8<Int16>(), dst); dst += 8 * height }
            continue
        }
        let src = source + (rows.lowerBound + r) * ld + depth.lowerBound
        var i = 0
        while i < full {
            let bytes = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Int8>.self)
            storeLanes(widened(bytes), dst)
            i += 8; dst += 8 * height
        }
        while i < length {
            var lanes = SIMD8<Int16>()
            for l in 0..<8 where i + l < valid { lanes[l] = Int16(src[i + l]) }
            storeLanes(lanes, dst)
            i += 8; dst += 8 * height
        }
    }
}

/// C (m×n) = A · Bᵀ with B already in panels (see `int8GEMM`). Work is split into tiles of
/// (4 row panels × a column block whose B panels fit the L2 cache), shared among the threads.
func int8Multiply(m: Int, _ a: UnsafePointer<Int8>, lda: Int, _ b: Int8Panels,
                  _ c: UnsafeMutablePointer<Int32>, ldc: Int) {
    let n = b.rows, mr = Int8Panels.tileRows, nr = Int8Panels.tileColumns
    guard m > 0, n > 0 else { return }
    guard b.depth > 0 else {
        for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) }
        return
    }
    let firstBlock = b.block(0).length
    // Column blocks of equal size whose B panels fit in 192 KiB (L2); chunks of about 4 row panels.
    let mostGroups = max(1, (192 << 10) / (nr * firstBlock * MemoryLayout<Int16>.stride))
    let columnBlocks = (b.groups + mostGroups - 1) / mostGroups
    let groupsPerBlock = (b.groups + columnBlocks - 1) / columnBlocks
    let panels = (m + mr - 1) / mr
    let rowChunks = (panels + 3) / 4, panelsPerChunk = (panels + rowChunks - 1) / rowChunks
    let items = columnBlocks * rowChunks
    let small = m * n * b.depth < 1 << 21
    parallelRanges(items, minimumPerThread: small ? items : 1) { range in
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: mr * firstBlock * MemoryLayout<Int16>.stride, alignment: 64)
            .bindMemory(to: Int16.self, capacity: mr * firstBlock)
        defer { scratch.deallocate() }
        for item in range {
            let cb = item / rowChunks, rc = item % rowChunks
            let groupRange = cb * groupsPerBlock..<min(b.groups, (cb + 1) * groupsPerBlock)
            let panelRange = rc * panelsPerChunk..<min(panels, (rc + 1) * panelsPerChunk)
            for kb in 0..<b.blocks {
                let (start, length) = b.block(kb)
                for p in panelRange {
                    let rows = p * mr..<min(m, (p + 1) * mr)
                    packGroup(a, ld: lda, rows: rows, height: mr, depth: start..<min(b.depth, start + length),
                              length: length, into: scratch)
                    for g in groupRange {
                        let sums = multiplyTile(scratch, b.panel(g, kb), steps: length / 8)
                        storeTile(sums, c, ldc: ldc, rows: rows, columns: g * nr..<min(n, (g + 1) * nr),
                                  accumulate: kb > 0)
                    }
                }
            }
        }
    }
}

/// The register tile: 6 rows of A against 2 rows of B over `steps` × 8 depth, twelve 4-lane
/// accumulators. Returns the 12 sums column by column: (r0..r3, c0), (r4, r5 c0; r0, r1 c1),
/// (r2..r5, c1).
@inline(__always)
private func multiplyTile(_ a: UnsafePointer<Int16>, _ b: UnsafePointer<Int16>, steps: Int)
    -> (SIMD4<Int32>, SIMD4<Int32>, SIMD4<Int32>) {
    var c00 = SIMD4<Int32>(), c01 = SIMD4<Int32>(), c10 = SIMD4<Int32>(), c11 = SIMD4<Int32>()
    var c20 = SIMD4<Int32>(), c21 = SIMD4<Int32>(), c30 = SIMD4<Int32>(), c31 = SIMD4<Int32>()
    var c40 = SIMD4<Int32>(), c41 = SIMD4<Int32>(), c50 = SIMD4<Int32>(), c51 = SIMD4<Int32>()
    var pa = a, pb = b
    for _ in 0..<steps {
        let b0 = loadLanes(pb), b1 = loadLanes(pb + 8)
        let a0 = loadLanes(pa)
        c00 &+= multiplyAdd(a0, b0); c01 &+= multiplyAdd(a0, b1)
        let a1 = loadLanes(pa + 8)
        c10 &+= multiplyAdd(a1, b0); c11 &+= multiplyAdd(a1, b1)
        let a2 = loadLanes(pa + 16)
        c20 &+= multiplyAdd(a2, b0); c21 &+= multiplyAdd(a2, b1)
        let a3 = loadLanes(pa + 24)
        c30 &+= multiplyAdd(a3, b0); c31 &+= multiplyAdd(a3, b1)
        let a4 = loadLanes(pa + 32)
        c40 &+= multiplyAdd(a4, b0); c41 &+= multiplyAdd(a4, b1)
        let a5 = loadLanes(pa + 40)
        c50 &+= multiplyAdd(a5, b0); c51 &+= multiplyAdd(a5, b1)
        pa += 48; pb += 16
    }
    return (laneTotals(c00, c10, c20, c30), laneTotals(c40, c50, c01, c11), laneTotals(c21, c31, c41, c51))
}

/// Write (or add, for later depth blocks) a tile's sums to C, skipping rows and columns past the edge.
@inline(__always)
private func storeTile(_ sums: (SIMD4<Int32>, SIMD4<Int32>, SIMD4<Int32>), _ c: UnsafeMutablePointer<Int32>,
                       ldc: Int, rows: Range<Int>, columns: Range<Int>, accumulate: Bool) {
    var tile = sums
    withUnsafeBytes(of: &tile) { raw in
        let s = raw.bindMemory(to: Int32.self)
        for (i, row) in rows.enumerated() {
            let out = c + row * ldc
            for (j, column) in columns.enumerated() {
                let v = s[j * Int8Panels.tileRows + i]
                out[column] = accumulate ? out[column] &+ v : v
            }
        }
    }
}

/// Eight 16-bit products summed pairwise into four 32-bit lanes: the shape of `pmaddwd`.
@inline(__always)
private func multiplyAdd(_ x: SIMD8<Int16>, _ y: SIMD8<Int16>) -> SIMD4<Int32> {
    let p = widened(x) &* widened(y)
    return p.evenHalf &+ p.oddHalf
}

/// Sign-extend each lane. Spelled lane by lane: the generic `init(truncatingIfNeeded:)` can end up
/// as an out-of-line call when the module is compiled in several threads, which hides the
/// multiply-add from instruction selection.
@inline(__always)
private func widened(_ x: SIMD8<Int16>) -> SIMD8<Int32> {
    SIMD8(Int32(x[0]), Int32(x[1]), Int32(x[2]), Int32(x[3]), Int32(x[4]), Int32(x[5]), Int32(x[6]), Int32(x[7]))
}

@inline(__always)
private func widened(_ x: SIMD8<Int8>) -> SIMD8<Int16> {
    SIMD8(Int16(x[0]), Int16(x[1]), Int16(x[2]), Int16(x[3]), Int16(x[4]), Int16(x[5]), Int16(x[6]), Int16(x[7]))
}

/// The lane totals of four accumulators, [Σa, Σb, Σc, Σd], by two rounds of pairwise adds.
@inline(__always)
private func laneTotals(_ a: SIMD4<Int32>, _ b: SIMD4<Int32>, _ c: SIMD4<Int32>, _ d: SIMD4<Int32>) -> SIMD4<Int32> {
    let ab = SIMD4(lowHalf: a.lowHalf, highHalf: b.lowHalf) &+ SIMD4(lowHalf: a.highHalf, highHalf: b.highHalf)
    let cd = SIMD4(lowHalf: c.lowHalf, highHalf: d.lowHalf) &+ SIMD4(lowHalf: c.highHalf, highHalf: d.highHalf)
    return SIMD4(lowHalf: ab.evenHalf, highHalf: cd.evenHalf) &+ SIMD4(lowHalf: ab.oddHalf, highHalf: cd.oddHalf)
}

/// Eight Int16 from 16-byte-aligned memory.
@inline(__always)
private func loadLanes(_ p: UnsafePointer<Int16>) -> SIMD8<Int16> {
    UnsafeRawPointer(p).load(as: SIMD8<Int16>.self)
}

@inline(__always)
private func storeLanes(_ v: SIMD8<Int16>, _ p: UnsafeMutablePointer<Int16>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Int16>.self)
}
