/// An update rule applied to every parameter of a model in one step over its flat buffers.
///
/// Each conforming type is the rule for one parameter (a slice of `store.values` at
/// `parameter.offset`), walked over `store.parameters` so weight decay reaches only the parameters
/// with `decays == true` and the alignment padding between them is never written. State buffers
/// (momentum, first and second moments) are flat tensors with the store's layout, allocated on
/// the first step through the store's context: allocations are reported, and in meta mode only
/// their shapes exist. Every step records its FLOPs and bytes as kind `.optimizer`; the caller
/// sets the phase.
///
///     let optimizer = AdamW(weightDecay: 0.1)
///     for step in 0..<steps {
///         // forward, backward ...
///         optimizer.step(store, learningRate: schedule.rate(atStep: step, totalSteps: steps, base: 3e-4))
///     }
public protocol Optimizer: AnyObject {
    /// Update every parameter of `store` from its gradient.
    /// - Parameters:
    ///   - store: the model's parameters; the same store at every step.
    ///   - learningRate: this step's rate (from a `LearningRateSchedule`).
    func step(_ store: ParameterStore, learningRate: Float)
    /// `step`, after which every gradient of `store` is zero, as `store.zeroGradients()` leaves
    /// it: the next backward accumulates onto it with no zeroing pass of its own. A rule that
    /// reads each gradient once writes the zero in that same pass (the default steps, then
    /// zeroes). Records the step's events and the zeroing's.
    func stepZeroingGradients(_ store: ParameterStore, learningRate: Float)
    /// Steps taken so far (the `t` of bias correction).
    var stepCount: Int { get }
    /// FP32 optimizer-state bytes kept per parameter, beyond the weights and their gradients
    /// (Adam: 8, momentum SGD: 4, plain SGD: 0). The memory model's ZeRO `K` adds the FP32 master
    /// copy on top of this when training in mixed precision.
    var stateBytesPerParameter: Double { get }
}

extension Optimizer {
    public func stepZeroingGradients(_ store: ParameterStore, learningRate: Float) {
        step(store, learningRate: learningRate)
        store.zeroGradients()
    }
}

/// A flat state buffer laid out like `store`: zero-filled, allocated once through the store's
/// context (shape only in meta mode) and checked against the store on every later step.
func stateBuffer(_ existing: Tensor?, for store: ParameterStore, optimizer: String) -> Tensor {
    if let existing {
        precondition(existing.count == store.count,
                     "\(optimizer): state built for a store of \(existing.count) elements, stepped with \(store.count)")
        return existing
    }
    return Tensor(shape: [store.count], context: store.values.context)
}

extension ParameterStore {
    /// Elements of the parameters that take weight decay (no padding).
    var decayingCount: Int { parameters.reduce(0) { $0 + ($1.decays ? $1.count : 0) } }

    /// Visit every parameter element once in one parallel region: the flat buffer is split evenly
    /// between the threads and each walks the parameter slices inside its share, calling
    /// `body(offset, count, decays)`. One fan-out per step instead of one per parameter.
    func forEachSlice(minimumPerThread: Int = 1 << 15, _ body: (Int, Int, Bool) -> Void) {
        let parameters = self.parameters
        parallelRanges(count, minimumPerThread: minimumPerThread) { share in
            for p in parameters {
                let lo = max(p.offset, share.lowerBound), hi = min(p.offset + p.count, share.upperBound)
                if lo < hi { body(lo, hi - lo, p.decays) }
            }
        }
    }
}

/// Elements per block of `blockwiseSum`: fixed, so a sum is the same number on any thread count.
let sumBlockSize = 1 << 15

/// Σ `body(block)` over `0..<n`, cut into fixed blocks of `sumBlockSize` that run in parallel
/// and are added in block order: the result depends on `n` only, never on the thread count or on
/// which thread finished first, so norms (and the runs that depend on them) replay bit for bit.
/// `body` may also write the elements of its block (each element belongs to exactly one block).
///
///     let sumOfSquares = blockwiseSum(n) { r in
///         var s = SIMD2<Double>.zero
///         for i in r { s.x += Double(x[i]) * Double(x[i]) }
///         return s
///     }.x
func blockwiseSum(_ n: Int, _ body: (Range<Int>) -> SIMD2<Double>) -> SIMD2<Double> {
    let blocks = (n + sumBlockSize - 1) / sumBlockSize
    if blocks <= 1 { return n == 0 ? .zero : body(0..<n) }
    return withUnsafeTemporaryAllocation(of: SIMD2<Double>.self, capacity: blocks) { partial in
        parallelRanges(blocks, minimumPerThread: 1) { range in
            for b in range {
                partial[b] = body(b * sumBlockSize ..< min(n, (b + 1) * sumBlockSize))
            }
        }
        var total = SIMD2<Double>.zero
        for b in 0..<blocks { total += partial[b] }
        return total
    }
}
