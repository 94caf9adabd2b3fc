import Engine

extension OpEvent {
    /// The share of this operation one of `t` tensor-parallel ranks executes (Shoeybi et al. 2019,
    /// "Megatron-LM", §3): a 1/t of its FLOPs, and of its operands all but the activation every
    /// rank holds whole.
    ///
    /// A column-parallel product (QKV, the MLP's first matrix, the vocabulary-parallel LM head)
    /// reads the whole (b, s, h) input and 1/t of the weight, and writes 1/t of the output; a
    /// row-parallel one (the attention and MLP output projections) reads 1/t of its input and of
    /// the weight and writes a whole (b, s, h) partial sum, all-reduced afterwards; their
    /// backward products likewise keep one (b, s, h) operand whole. So a rank's product is
    /// thinner than the model's — its arithmetic intensity drops, and with it the efficiency
    /// `HardwareProfile.Efficiency.matmul(intensity:)` gives it. The attention core (scores and
    /// context, batched over heads) splits whole heads: every operand 1/t, as `shard(_:)`
    /// does; so does every operation that is not a matrix product.
    /// - Parameters:
    ///   - t: tensor-parallel ranks.
    ///   - replicatedBytes: bytes of the (b, s, h) activation every rank holds whole.
    func tensorParallelShard(_ t: Int, replicatedBytes: Double) -> OpEvent {
        guard t > 1, kind == .matmul, !Self.isAttentionCore(name) else { return shard(t) }
        let k = Double(t), total = bytesRead + bytesWritten
        guard total > replicatedBytes else { return shard(t) }
        // What the roofline reads is the total; reads and writes keep their proportions.
        let f = (replicatedBytes + (total - replicatedBytes) / k) / total
        var e = self
        e.flops /= k; e.bytesRead *= f; e.bytesWritten *= f
        return e
    }

    /// Whether an operation is attention's core (Q·Kᵀ, the context product, and their gradients),
    /// which tensor parallelism splits by whole heads.
    static func isAttentionCore(_ name: String) -> Bool {
        name.contains(".attn.scores") || name.contains(".attn.context")
    }
}
