import Engine

/// Checks a recipe against the model it will build, before any training: combinations that
/// cannot work (a per-channel scheme on a layer with one channel, factorizing a model with no
/// matrices...) fail here with the step's key path and the reason.
enum Preflight {
    static func check(_ recipe: Recipe, sampleShape: [Int], classes: Int) throws {
        let ctx = ExecutionContext(mode: .meta)
        let model = try Model(spec: recipe.candidate.architecture, inputShape: sampleShape, classes: classes, context: ctx, seed: 0)
        let weights = NetworkSurgery.weights(of: model)
        for (i, step) in recipe.compression.enumerated() {
            let path = "compression[\(i)]"
            switch step {
            case .quantize(let q):
                for w in weights {
                    do {
                        try q.weights.validate(channels: q.weights.perChannel ? w.channels : 2, keyPath: path)
                    } catch let e as ConfigError {
                        throw ConfigError(keyPath: e.keyPath, reason: "\(w.layer): \(e.reason)")
                    }
                }
            case .lowRank, .share, .prune, .pruneChannels:
                if weights.isEmpty { throw ConfigError(keyPath: path, reason: "the \(recipe.candidate.architecture.family) model has no weights to compress") }
            case .distill(let d):
                for (k, t) in d.teachers.enumerated() {
                    do {
                        _ = try Model(spec: t.architecture, inputShape: sampleShape, classes: classes, context: ctx, seed: 0)
                    } catch let e as ConfigError {
                        throw ConfigError(keyPath: "\(path).teachers[\(k)].\(e.keyPath)", reason: e.reason)
                    }
                }
            case .l1:
                break
            }
        }
    }
}
