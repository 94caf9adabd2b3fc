import Engine

/// The sizes a training estimate costs: past any model trained so far by orders of magnitude, and
/// small enough that every element count the trace forms is an exact integer in a `Double`
/// (below 2^53). Larger values are refused with the key, never wrapped around or left to run for
/// minutes.
extension GPTSpec {
    /// Largest values of each size (the largest published models have about 100 layers, hidden
    /// sizes near 20,000, vocabularies near 256,000 and contexts of a few million tokens).
    public static let costableLimits: [(key: String, limit: Int)] = [
        ("layers", 100_000), ("hidden", 1 << 20), ("heads", 1 << 16), ("sequence_length", 1 << 24),
        ("vocabulary", 1 << 24), ("micro_batch", 1 << 20),
    ]

    /// Throws a `PlanError` naming the first size past its limit, or the product of sizes that
    /// leaves the exact integer range.
    public func checkCostable(microBatch: Int) throws {
        let values: [String: Int] = ["layers": layers, "hidden": hidden, "heads": heads, "sequence_length": sequenceLength,
                                     "vocabulary": vocabulary, "micro_batch": microBatch]
        for (key, limit) in Self.costableLimits where values[key]! > limit {
            throw PlanError(key, "\(values[key]!) is past what an estimate costs (at most \(limit))")
        }
        let exact = 9_007_199_254_740_992.0   // 2^53
        let b = Double(microBatch), s = Double(sequenceLength), h = Double(hidden)
        let products: [(key: String, what: String, value: Double)] = [
            ("sequence_length", "micro-batch × sequence² × heads (attention scores)", b * s * s * Double(heads)),
            ("vocabulary", "micro-batch × sequence × vocabulary (logits)", b * s * Double(vocabulary)),
            ("hidden", "micro-batch × sequence × \(mlpRatio) × hidden (MLP activations)", b * s * Double(mlpRatio) * h),
            ("hidden", "\(mlpRatio) × hidden² (an MLP weight)", Double(mlpRatio) * h * h),
            ("vocabulary", "vocabulary × hidden (the embedding)", Double(vocabulary) * h),
        ]
        if let p = products.first(where: { $0.value >= exact }) {
            throw PlanError(p.key, "\(p.what) = \(String(format: "%.3g", p.value)) elements, past 2^53, the largest count costed exactly")
        }
    }
}
