/// Scale all gradients of `store` together so their global L2 norm is at most `maxNorm`
/// (Pascanu et al. 2013; PyTorch's `clip_grad_norm_` with norm type 2).
///
/// The norm is taken over every gradient at once, accumulated in Double in fixed blocks (the same
/// number on any thread count). Above `maxNorm` every gradient is multiplied by maxNorm/norm, so
/// the new norm is maxNorm to float rounding (PyTorch adds 1e-6 to the denominator; not needed
/// here since norm > maxNorm > 0). A non-finite norm leaves the gradients alone: the caller sees
/// it and skips the step. In meta mode nothing is known, 0 is returned and the scaling pass is
/// recorded as if it happened (the cost of a clipped step).
///
///     let norm = clipGradientNorm(store, maxNorm: 1)
///     if !norm.isFinite { /* skip this step */ }
///
/// - Parameters:
///   - store: the model's parameters, gradients filled by backward.
///   - maxNorm: largest allowed global norm (> 0).
/// - Returns: the global norm before clipping.
@discardableResult
public func clipGradientNorm(_ store: ParameterStore, maxNorm: Float) -> Float {
    precondition(maxNorm > 0, "clipGradientNorm: maxNorm must be positive, got \(maxNorm)")
    let ctx = store.grads.context
    let n = Double(store.parameterCount)
    ctx.record("grad_norm", .optimizer, flops: 2 * n, read: n, written: 0, dtype: .fp32)
    guard !ctx.isMeta else {
        ctx.record("clip_grad", .optimizer, flops: n, read: n, written: n, dtype: .fp32)
        return 0
    }
    let g = store.grads.data
    // The flat buffer's alignment padding is zero and adds nothing to the sum.
    let squares = blockwiseSum(store.count) { r in
        var s = 0.0
        for i in r { s += Double(g[i]) * Double(g[i]) }
        return SIMD2(s, 0)
    }.x
    let norm = squares.squareRoot()
    if norm.isFinite, norm > Double(maxNorm) {
        ctx.record("clip_grad", .optimizer, flops: n, read: n, written: n, dtype: .fp32)
        let scale = Float(Double(maxNorm) / norm)
        parallelRanges(store.count) { r in
            for i in r { g[i] *= scale }
        }
    }
    return Float(norm)
}

/// Whether every gradient of `store` is a finite number: false on any NaN or ±Inf, the signal of
/// a diverged run or of an overflow under loss scaling (the step is then skipped). Always true in
/// meta mode, where the check is only recorded.
///
///     guard gradientsAreFinite(store) else { continue }   // skip this step
public func gradientsAreFinite(_ store: ParameterStore) -> Bool {
    let ctx = store.grads.context
    let n = Double(store.parameterCount)
    ctx.record("grad_finite", .optimizer, flops: n, read: n, written: 0, dtype: .fp32)
    guard !ctx.isMeta else { return true }
    let g = store.grads.data
    let bad = blockwiseSum(store.count) { r in
        // x·0 is 0 for every finite x and NaN for NaN and ±Inf; the loop has no branch.
        var probe: Float = 0
        for i in r { probe += g[i] * 0 }
        return SIMD2(probe.isNaN ? 1 : 0, 0)
    }.x
    return bad == 0
}
