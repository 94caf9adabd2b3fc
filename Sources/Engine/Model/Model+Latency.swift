import Dispatch

extension Model {
    /// The median wall-clock time of one inference forward pass on a batch of `batch` samples, in
    /// milliseconds, on this machine with `EngineThreads.count` threads (see `medianLatencies`).
    ///
    ///     let ms = model.medianLatency(batch: 1)     // batch-1 latency
    public func medianLatency(batch: Int, seed: UInt64 = 0) -> Double {
        Model.medianLatencies([self], batch: batch, seed: seed)[0]
    }

    /// The median forward-pass latency in milliseconds of each model on the same batch of `batch`
    /// samples, the models taking turns: round after round each model runs once, so a burst of
    /// load from another process falls on all of them alike and their ratio stays fair.
    ///
    /// The input holds seeded uniform values in [−1, 1] (the cost of every layer here is the same
    /// for any values). After `warmups` unmeasured rounds, rounds run at least `minimumRounds`
    /// times and until `budgetSeconds` have passed (at most `maximumRounds`). All models must take
    /// the same input shape.
    ///
    ///     let ms = Model.medianLatencies([float, int8], batch: 128)   // [fp32 ms, int8 ms]
    public static func medianLatencies(_ models: [Model], batch: Int, seed: UInt64 = 0, warmups: Int = 3,
                                       minimumRounds: Int = 15, maximumRounds: Int = 1000,
                                       budgetSeconds: Double = 1) -> [Double] {
        precondition(batch > 0 && minimumRounds > 0 && maximumRounds >= minimumRounds,
                     "medianLatencies: batch \(batch), rounds \(minimumRounds)…\(maximumRounds)")
        guard let first = models.first else { return [] }
        precondition(models.allSatisfy { $0.inputShape == first.inputShape },
                     "medianLatencies: input shapes differ: \(models.map(\.inputShape))")
        var rng = RandomSource(seed: seed)
        let count = batch * first.inputShape.reduce(1, *)
        let values = (0..<count).map { _ in 2 * rng.nextFloat() - 1 }
        let inputs = models.map { Tensor(values, shape: [batch] + first.inputShape, context: $0.context) }
        for _ in 0..<warmups {
            for (model, x) in zip(models, inputs) { _ = model.forward(x, training: false) }
        }
        var runs = [[Double]](repeating: [], count: models.count)
        let start = DispatchTime.now().uptimeNanoseconds
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        while runs[0].count < minimumRounds || (runs[0].count < maximumRounds && elapsed() < budgetSeconds) {
            for (i, (model, x)) in zip(models, inputs).enumerated() {
                let t0 = DispatchTime.now().uptimeNanoseconds
                _ = model.forward(x, training: false)
                runs[i].append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            }
        }
        return runs.map { r in
            let s = r.sorted(), mid = s.count / 2
            return s.count % 2 == 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
        }
    }
}
