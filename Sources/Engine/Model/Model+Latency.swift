import Dispatch

extension Model {
    /// The median wall-clock time of one inference forward pass on a batch of `batch` samples, in
    /// milliseconds, on this machine with `EngineThreads.count` threads.
    ///
    /// The input holds seeded uniform values in [−1, 1] (the cost of every layer here is the same
    /// for any values). After `warmups` unmeasured passes the forward runs at least `minimumRuns`
    /// times and until `budgetSeconds` have passed (at most `maximumRuns`); the median of those
    /// runs is robust to the odd pass another process interrupts.
    ///
    ///     let ms = model.medianLatency(batch: 1)     // batch-1 latency
    public func medianLatency(batch: Int, seed: UInt64 = 0, warmups: Int = 3, minimumRuns: Int = 15,
                              maximumRuns: Int = 1000, budgetSeconds: Double = 0.5) -> Double {
        precondition(batch > 0 && minimumRuns > 0 && maximumRuns >= minimumRuns,
                     "medianLatency: batch \(batch), runs \(minimumRuns)…\(maximumRuns)")
        var rng = RandomSource(seed: seed)
        let count = batch * inputShape.reduce(1, *)
        let x = Tensor((0..<count).map { _ in 2 * rng.nextFloat() - 1 }, shape: [batch] + inputShape, context: context)
        for _ in 0..<warmups { _ = forward(x, training: false) }
        var runs: [Double] = []
        let start = DispatchTime.now().uptimeNanoseconds
        while runs.count < minimumRuns
            || (runs.count < maximumRuns && Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < budgetSeconds) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = forward(x, training: false)
            runs.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
        }
        runs.sort()
        let mid = runs.count / 2
        return runs.count % 2 == 1 ? runs[mid] : (runs[mid - 1] + runs[mid]) / 2
    }
}
