import Engine

/// Builds the multi-fidelity early stopping a study asks for.
public enum EarlyStoppingFactory {
    /// - Parameters:
    ///   - spec: the study's `early_stopping` section.
    ///   - maxResource: the evaluator's budget (epochs), used when the spec gives no max_resource.
    ///   - objectives: length of the objective vectors trials record.
    ///   - seed: the study seed (Hyperband draws brackets from it).
    /// - Throws: `ConfigError` at `early_stopping.<key>` for a value out of range.
    ///
    ///     let stopper = try EarlyStoppingFactory.make(EarlyStoppingSpec(kind: .hyperband), maxResource: 27,
    ///                                                 objectives: 2, seed: 1)
    public static func make(_ spec: EarlyStoppingSpec, maxResource: Int, objectives: Int, seed: UInt64) throws -> EarlyStopping {
        let top = spec.maxResource ?? maxResource
        if spec.maxResource == nil, top < spec.minResource, spec.minResource >= 1 {
            throw ConfigError(keyPath: "early_stopping.min_resource",
                              reason: "must be at most the evaluator's budget (\(top)), got \(spec.minResource)")
        }
        switch spec.kind {
        case .successiveHalving:
            return try SuccessiveHalving(minResource: spec.minResource, maxResource: top,
                                         reductionFactor: spec.reductionFactor, objectives: objectives)
        case .hyperband:
            return try Hyperband(minResource: spec.minResource, maxResource: top,
                                 reductionFactor: spec.reductionFactor, objectives: objectives, seed: seed)
        }
    }
}
