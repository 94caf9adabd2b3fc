import CBLAS
import Dispatch
import Engine

/// The machine's single-precision GEMM peak as OpenBLAS reaches it: the yardstick the engine's
/// achieved GFLOP/s is read against.
public enum SgemmPeak {
    /// Best GFLOP/s over `repeats` timed 1024³ products (after one warm-up) with `threads` threads.
    public static func measure(threads: Int, size n: Int = 1024, repeats: Int = 5) -> Double {
        EngineThreads.set(threads)
        let a = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
        let b = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        var rng = RandomSource(seed: 1)
        for i in 0..<n * n { a[i] = rng.nextFloat() - 0.5; b[i] = rng.nextFloat() - 0.5; c[i] = 0 }
        func run() {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a, Int32(n), b, Int32(n), 0, c, Int32(n))
        }
        run()
        var best = 0.0
        for _ in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            run()
            let s = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            best = max(best, 2 * Double(n) * Double(n) * Double(n) / s / 1e9)
        }
        return best
    }
}
