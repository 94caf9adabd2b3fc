import CBLAS
import Dispatch

/// Row-major single-precision GEMM: C = alpha · op(A) · op(B) + beta · C, with op(A) m×k and
/// op(B) k×n. The only place the engine calls into CBLAS for matrix products.
///
/// OpenBLAS itself runs on one thread (see `EngineThreads`); a product of at least
/// `splitThreshold` multiply-adds is cut here (`GEMMCut`) into `EngineThreads.count` slabs of C, one per
/// thread, each a single-threaded OpenBLAS call. The cut is along whichever of m and n spares the
/// larger operand from being packed twice (rows of C share op(B), columns share op(A)), on
/// multiples of 16 so each slab keeps whole register tiles. OpenBLAS rounds its edge tiles
/// differently from full ones, so a cut product can differ from the uncut one in the last bit; the
/// cut depends only on the shape and the thread count, so for one thread count a result is the same
/// run to run.
@inline(__always)
func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
           alpha: Float = 1, _ a: UnsafePointer<Float>, lda: Int,
           _ b: UnsafePointer<Float>, ldb: Int,
           beta: Float = 0, _ c: UnsafeMutablePointer<Float>, ldc: Int) {
    guard m > 0, n > 0 else { return }
    if k == 0 {
        if beta == 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
        return
    }
    // A beta-0 product zeroes its rows of C here and accumulates onto them: OpenBLAS's own beta
    // pass (sgemm_beta) is a slower sweep, 4% of an MLP epoch. 0 + x is x, so the result is the same.
    func call(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, m: Int, n: Int) {
        if beta == 0 {
            for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) }
        }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta == 0 ? 1 : beta, c, Int32(ldc))
    }
    let cut = GEMMCut(m: m, n: n, k: k, threads: EngineThreads.count)
    guard cut.count > 1 else {
        call(a, b, c, m: m, n: n)
        return
    }
    DispatchQueue.concurrentPerform(iterations: cut.count) { t in
        let r = cut.slab(t)
        if cut.byRows {
            call(a + (transA ? r.lowerBound : r.lowerBound * lda), b, c + r.lowerBound * ldc, m: r.count, n: n)
        } else {
            call(a, b + (transB ? r.lowerBound * ldb : r.lowerBound), c + r.lowerBound, m: m, n: r.count)
        }
    }
}

/// How `sgemm` cuts an m×n×k product over `threads` threads: along the rows of C when m ≥ n
/// (each slab then packs all of op(B), the smaller operand), else along its columns; `count`
/// slabs of `step` rows or columns (the last one shorter) cover 0..<extent in order, every
/// boundary a multiple of `splitAlignment`. One slab, the whole product, when it has fewer than
/// `splitThreshold` multiply-adds or too few rows and columns.
struct GEMMCut {
    let byRows: Bool
    let extent: Int
    let step: Int

    init(m: Int, n: Int, k: Int, threads: Int) {
        byRows = m >= n
        extent = byRows ? m : n
        let pieces = min(threads, extent / splitAlignment)
        guard pieces > 1, m * n * k >= splitThreshold else {
            step = max(extent, 1)
            return
        }
        let share = (extent + pieces - 1) / pieces
        step = (share + splitAlignment - 1) / splitAlignment * splitAlignment
    }

    var count: Int { (extent + step - 1) / step }

    func slab(_ t: Int) -> Range<Int> { t * step ..< min(extent, (t + 1) * step) }

    var slabs: [Range<Int>] { (0..<count).map(slab) }
}

/// Products with fewer multiply-adds than this run unsplit on the calling thread: OpenBLAS's own
/// bound for going multi-threaded (65,536 × its GEMM_MULTITHREAD_THRESHOLD of 4), below which the
/// fan-out costs more than it saves.
let splitThreshold = 262_144
/// Slab boundaries fall on multiples of this many rows or columns.
let splitAlignment = 16

/// OpenBLAS build description (version, core type), for benchmark host records.
public func openBLASConfiguration() -> String {
    guard let c = openblas_get_config() else { return "unknown" }
    return String(cString: c)
}
