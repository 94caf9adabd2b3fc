import CBLAS

/// Row-major single-precision GEMM: C = alpha · op(A) · op(B) + beta · C, with op(A) m×k and
/// op(B) k×n. The only place the engine calls into CBLAS for matrix products.
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
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// OpenBLAS build description (version, core type), for benchmark host records.
public func openBLASConfiguration() -> String {
    guard let c = openblas_get_config() else { return "unknown" }
    return String(cString: c)
}
