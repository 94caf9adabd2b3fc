import Dispatch
import CBLAS

/// How many threads the engine uses, all of them Dispatch's. OpenBLAS is held to one thread: the
/// engine cuts large products into one single-threaded call per thread itself (see `sgemm`), so
/// no pool of OpenBLAS threads spins between products while Dispatch's threads do the rest of a
/// step (on two cores that spinning took 7% of a CNN epoch, which runs 10% faster with the cut).
public enum EngineThreads {
    nonisolated(unsafe) private static var current = 1

    public static var count: Int { current }

    /// Set the count; call before training (not from inside a parallel region).
    public static func set(_ n: Int) {
        current = max(1, n)
        openblas_set_num_threads(1)
    }
}

/// Split 0..<n into at most `EngineThreads.count` contiguous chunks and run `body` on each, in
/// parallel when the work is large enough to pay for the fan-out.
@inline(__always)
public func parallelRanges(_ n: Int, minimumPerThread: Int = 1 << 17, _ body: (Range<Int>) -> Void) {
    let threads = min(EngineThreads.count, max(1, n / max(minimumPerThread, 1)))
    if threads <= 1 {
        body(0..<n)
        return
    }
    let chunk = (n + threads - 1) / threads
    DispatchQueue.concurrentPerform(iterations: threads) { t in
        let lo = t * chunk, hi = min(n, lo + chunk)
        if lo < hi { body(lo..<hi) }
    }
}
