import Engine

/// One data-parallel rank's side of ZeRO over a stage's flat parameter store (Rajbhandari et al.
/// 2019), with the collectives where DeepSpeed runs them (`StepCollectives.dataParallel`):
///
///     stage 0  every rank holds all parameters, gradients and optimizer states; gradients are
///              all-reduced at the accumulation boundary and every rank updates everything
///     stage 1  optimizer states are sharded: gradients reduce-scattered at the boundary, each
///              rank updates its shard, the updated shards all-gathered
///     stage 2  gradients too: reduce-scattered after every micro-batch into a gradient shard, the
///              full gradient buffer is only a working buffer of the backward pass
///     stage 3  parameters too: each rank keeps its shard of the weights; the full weights are
///              gathered before every forward and backward and released after (overwritten with
///              NaN outside the shard, so a step that read a released weight would show it)
///
/// The shard of rank r is `communicator.chunk(r, of: store.count)`, padding included.
final class ZeroState {
    let zero: Int
    let rank: Rank
    let store: ParameterStore
    let shard: Range<Int>
    let optimizer: ShardedAdamW
    /// ZeRO-2/3: the reduced gradients of this rank's shard, accumulated over micro-batches.
    let gradientShard: Tensor?
    /// ZeRO-3: the master weights of this rank's shard.
    let parameterShard: Tensor?

    init(zero: Int, rank: Rank, store: ParameterStore, settings: AdamSettings) {
        self.zero = zero
        self.rank = rank
        self.store = store
        let context = store.values.context
        let sharded = zero >= 1 && rank.size > 1
        shard = sharded ? rank.communicator.chunk(rank.index, of: store.count) : 0 ..< store.count
        optimizer = ShardedAdamW(range: shard, parameters: store.parameters, context: context, settings: settings)
        gradientShard = zero >= 2 && rank.size > 1 ? Tensor(shape: [shard.count], context: context) : nil
        if zero >= 3 && rank.size > 1 {
            let p = Tensor(shape: [shard.count], context: context)
            p.data.update(from: store.values.data + shard.lowerBound, count: shard.count)
            parameterShard = p
            release()
        } else {
            parameterShard = nil
        }
    }

    /// Bytes held between steps: parameters, gradients and optimizer states.
    var held: ModelStateMemory {
        var m = ModelStateMemory(parameterCount: 0, zero: 0, dataParallel: 1)
        m.parameters = parameterShard?.bytes ?? store.values.bytes
        m.gradients = gradientShard?.bytes ?? store.grads.bytes
        m.optimizerStates = optimizer.stateBytes
        return m
    }

    /// Full buffers this rank uses only inside a step (ZeRO-3's gathered weights, ZeRO-2/3's full
    /// gradients).
    var workingBytes: Double {
        (parameterShard == nil ? 0 : store.values.bytes) + (gradientShard == nil ? 0 : store.grads.bytes)
    }

    func beginStep() {
        store.grads.fill(0)
        gradientShard?.fill(0)
    }

    func beforeForward() { gather("parameters.forward", phase: .forward) }
    func afterForward() { if parameterShard != nil { release() } }
    func beforeBackward() { gather("parameters.backward", phase: .backward) }

    func afterBackward() {
        guard let g = gradientShard else { return }
        let ctx = store.values.context
        ctx.phase = .backward
        rank.reduceScatter(inPlace: store.grads.data, count: store.count, .mean, name: "gradients")
        let full = store.grads.data + shard.lowerBound, mine = g.data
        for i in 0 ..< shard.count { mine[i] += full[i] }
        store.grads.fill(0)
        if parameterShard != nil { release() }
    }

    /// Reduce what is left to reduce, update this rank's shard, share the result.
    func finishStep(learningRate: Float) {
        let ctx = store.values.context
        let values = store.values.data, grads = store.grads.data
        switch (zero, rank.size > 1) {
        case (_, false):
            ctx.phase = .optimizer
            optimizer.step(values: values, gradients: grads, learningRate: learningRate)
        case (0, true):
            ctx.phase = .backward
            rank.allReduce(grads, count: store.count, .mean, name: "gradients")
            ctx.phase = .optimizer
            optimizer.step(values: values, gradients: grads, learningRate: learningRate)
        case (1, true):
            ctx.phase = .backward
            rank.reduceScatter(inPlace: grads, count: store.count, .mean, name: "gradients")
            ctx.phase = .optimizer
            optimizer.step(values: values + shard.lowerBound, gradients: grads + shard.lowerBound, learningRate: learningRate)
            rank.allGather(inPlace: values, count: store.count, name: "parameters")
        case (2, true):
            ctx.phase = .optimizer
            optimizer.step(values: values + shard.lowerBound, gradients: gradientShard!.data, learningRate: learningRate)
            rank.allGather(inPlace: values, count: store.count, name: "parameters")
        default:
            ctx.phase = .optimizer
            optimizer.step(values: parameterShard!.data, gradients: gradientShard!.data, learningRate: learningRate)
        }
        ctx.phase = .other
    }

    /// The values this rank owns after a step: its shard (ZeRO ≥ 1) or everything.
    var ownedValues: [Float] {
        if let p = parameterShard { return Array(UnsafeBufferPointer(start: p.data, count: p.count)) }
        return Array(UnsafeBufferPointer(start: store.values.data + shard.lowerBound, count: shard.count))
    }

    private func gather(_ name: String, phase: Phase) {
        guard let p = parameterShard else { return }
        store.values.context.phase = phase
        (store.values.data + shard.lowerBound).update(from: p.data, count: shard.count)
        rank.allGather(inPlace: store.values.data, count: store.count, name: name)
    }

    private func release() {
        let v = store.values.data
        for i in 0 ..< store.count where !shard.contains(i) { v[i] = .nan }
    }
}
