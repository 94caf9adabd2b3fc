/// Checks that an architecture can be built for a given input before anything is trained, with
/// errors naming the offending field (`architecture.stages[2].kernel: ...`).
extension ArchitectureSpec {
    /// - Parameters:
    ///   - inputShape: one sample's shape: [H, W, C] for images, [D] for features, [T] for tokens.
    ///   - classes: output classes (vocabulary for token data).
    ///   - prefix: key path of the spec in its file.
    public func validate(inputShape: [Int], classes: Int, at prefix: String = "architecture") throws {
        func fail(_ key: String, _ reason: String) -> ConfigError { ConfigError(keyPath: prefix + "." + key, reason: reason) }
        func positive(_ key: String, _ v: Int) throws { if v < 1 { throw fail(key, "must be ≥ 1, got \(v)") } }
        func rate(_ key: String, _ v: Float) throws {
            if !(v >= 0 && v < 1) { throw fail(key, "must be in [0, 1), got \(v)") }
        }
        func image() throws -> (h: Int, w: Int, c: Int) {
            guard inputShape.count == 3 else {
                throw ConfigError(keyPath: prefix + ".family", reason: "\(family) needs image input [H, W, C], the data has samples of shape \(inputShape)")
            }
            return (inputShape[0], inputShape[1], inputShape[2])
        }
        guard classes >= 2 else { throw ConfigError(keyPath: prefix, reason: "the data has \(classes) class(es); need at least 2") }

        switch self {
        case .mlp(let s):
            for (i, w) in s.widths.enumerated() { try positive("widths[\(i)]", w) }
            try rate("dropout", s.dropout)
        case .cnn(let s):
            var (h, w, _) = try image()
            if s.stages.isEmpty { throw fail("stages", "needs at least one stage") }
            for (i, stage) in s.stages.enumerated() {
                let at = "stages[\(i)]"
                try positive(at + ".channels", stage.channels)
                try positive(at + ".blocks", stage.blocks)
                try positive(at + ".stride", stage.stride)
                guard [1, 3, 5, 7].contains(stage.kernel) else { throw fail(at + ".kernel", "must be 1, 3, 5 or 7, got \(stage.kernel)") }
                if stage.kernel > min(h, w) {
                    throw fail(at + ".kernel", "\(stage.kernel) is larger than this stage's \(h)×\(w) input")
                }
                h = (h - 1) / stage.stride + 1
                w = (w - 1) / stage.stride + 1
                if stage.pool != .none {
                    if min(h, w) < 2 { throw fail(at + ".pool", "cannot pool a \(h)×\(w) feature map by 2") }
                    h /= 2; w /= 2
                }
            }
            for (i, width) in s.head.enumerated() { try positive("head[\(i)]", width) }
            try rate("dropout", s.dropout)
        case .vit(let s):
            let (h, w, _) = try image()
            try positive("patch", s.patch); try positive("dim", s.dim); try positive("depth", s.depth)
            try positive("heads", s.heads); try positive("mlp_ratio", s.mlpRatio)
            if h % s.patch != 0 || w % s.patch != 0 { throw fail("patch", "\(s.patch) does not divide the \(h)×\(w) image") }
            if s.dim % s.heads != 0 { throw fail("heads", "\(s.heads) does not divide dim \(s.dim)") }
            try rate("dropout", s.dropout)
        case .gpt(let s):
            try positive("layers", s.layers); try positive("hidden", s.hidden); try positive("heads", s.heads)
            try positive("sequence_length", s.sequenceLength); try positive("vocabulary", s.vocabulary)
            try positive("mlp_ratio", s.mlpRatio)
            if s.hidden % s.heads != 0 { throw fail("heads", "\(s.heads) does not divide hidden \(s.hidden)") }
            try s.validateShape(fail)
            guard inputShape.count == 1 else {
                throw ConfigError(keyPath: prefix + ".family", reason: "gpt needs token sequences, the data has samples of shape \(inputShape)")
            }
            if inputShape[0] > s.sequenceLength {
                throw fail("sequence_length", "\(s.sequenceLength) is shorter than the data's sequences of \(inputShape[0]) tokens")
            }
            if classes > s.vocabulary { throw fail("vocabulary", "\(s.vocabulary) is smaller than the data's \(classes) tokens") }
            try rate("dropout", s.dropout)
        }
    }
}
