import Engine

/// One simulated rank's side of a `Communicator`: its index, its execution context and the
/// collectives it takes part in.
///
/// Every rank of the group must call the same collectives in the same order (as with NCCL).
/// Buffers are raw Float pointers into the caller's tensors; each call records one
/// `CollectiveEvent` in `context`, in the context's current phase.
///
///     rank.reduceScatter(grads, count: n, into: grads + rank.index * n / rank.size, .mean, name: "gradients")
///     rank.allGather(values + rank.index * n / rank.size, shardCount: n / rank.size, into: values, name: "parameters")
public struct Rank {
    public let index: Int
    public let communicator: Communicator
    public let context: ExecutionContext

    /// Ranks in the group.
    public var size: Int { communicator.size }

    private var group: RankGroup { RankGroup(name: communicator.group, size: size, stride: 1) }

    private func record(_ name: String, _ kind: CollectiveKind, elements: Int, group: RankGroup? = nil) {
        context.recordCollective(CollectiveEvent(name: name, kind: kind, phase: context.phase, group: group ?? self.group,
                                                 bytes: Double(elements * MemoryLayout<Float>.size)))
    }

    /// Make `buffer` visible to the other ranks and wait until every rank has done the same.
    private func post(_ buffer: UnsafeMutablePointer<Float>) {
        communicator.posted[index] = buffer
        communicator.barrier.wait()
    }

    /// Σ over ranks, in rank order, of `buffers[q][i]` for i in `range`, into `out[i − range.lowerBound]`.
    private func reduce(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>, _ op: ReduceOperation) {
        let c = communicator
        let sources = (0 ..< size).map { q -> UnsafeMutablePointer<Float> in
            guard let p = c.posted[q] else { preconditionFailure("rank \(q) posted no buffer") }
            return p
        }
        let n = Float(size)
        for i in range {
            var s = sources[0][i]
            for q in 1 ..< size { s += sources[q][i] }
            out[i - range.lowerBound] = op == .mean ? s / n : s
        }
        for q in 0 ..< size { c.count(range.count, from: q, to: index) }
    }

    /// All-reduce `count` floats in place: every rank ends with the same Σ (or mean) over ranks.
    /// A reduce-scatter then an all-gather: each rank sends 2(n − 1)/n of the buffer.
    public func allReduce(_ buffer: UnsafeMutablePointer<Float>, count: Int, _ op: ReduceOperation = .sum, name: String) {
        record(name, .allReduce, elements: count)
        guard size > 1 else { return }   // the mean over one rank is the value itself
        let c = communicator
        post(buffer)
        // Reduce-scatter in place: this rank writes only its own chunk, which no other rank reads.
        let mine = c.chunk(index, of: count)
        reduce(mine, into: buffer + mine.lowerBound, op)
        c.barrier.wait()
        // All-gather: copy every other rank's reduced chunk.
        for q in 0 ..< size where q != index {
            let theirs = c.chunk(q, of: count)
            guard let source = c.posted[q] else { preconditionFailure("rank \(q) posted no buffer") }
            (buffer + theirs.lowerBound).update(from: source + theirs.lowerBound, count: theirs.count)
            c.count(theirs.count, from: q, to: index)
        }
        c.barrier.wait()
    }

    /// All-reduce a whole tensor in place.
    public func allReduce(_ tensor: Tensor, _ op: ReduceOperation = .sum, name: String) {
        allReduce(tensor.data, count: tensor.count, op, name: name)
    }

    /// Reduce-scatter: rank r receives Σ (or mean) over ranks of chunk r of the `count`-float
    /// `input`, `count / size` floats, into `output`. Each rank sends (n − 1)/n of the buffer.
    /// `output` may be this rank's own chunk of `input` (in place) or memory outside `input`.
    public func reduceScatter(_ input: UnsafeMutablePointer<Float>, count: Int, into output: UnsafeMutablePointer<Float>,
                              _ op: ReduceOperation = .sum, name: String) {
        precondition(count % size == 0, "reduce-scatter of \(count) floats over \(size) ranks: not divisible")
        let shard = count / size
        let mine = index * shard ..< (index + 1) * shard
        precondition(output == input + mine.lowerBound || output + shard <= input || output >= input + count,
                     "reduce-scatter output overlaps another rank's chunk of the input")
        record(name, .reduceScatter, elements: count)
        guard size > 1 else {
            if output != input { output.update(from: input, count: count) }
            return
        }
        post(input)
        reduce(mine, into: output, op)
        communicator.barrier.wait()
    }

    /// All-gather: rank q's `shardCount` floats land at `output + q · shardCount` on every rank.
    /// Each rank sends (n − 1)/n of the gathered buffer. `shard` may be this rank's own slot of `output`.
    public func allGather(_ shard: UnsafeMutablePointer<Float>, shardCount: Int, into output: UnsafeMutablePointer<Float>,
                          name: String) {
        let mine = output + index * shardCount
        precondition(shard == mine || shard + shardCount <= output || shard >= output + size * shardCount,
                     "all-gather input overlaps another rank's slot of the output")
        record(name, .allGather, elements: size * shardCount)
        if shard != mine { mine.update(from: shard, count: shardCount) }
        guard size > 1 else { return }
        let c = communicator
        post(shard)
        for q in 0 ..< size where q != index {
            guard let source = c.posted[q] else { preconditionFailure("rank \(q) posted no buffer") }
            (output + q * shardCount).update(from: source, count: shardCount)
            c.count(shardCount, from: q, to: index)
        }
        c.barrier.wait()
    }

    /// Reduce-scatter in place, as ZeRO does over a model's flat gradient buffer: afterwards this
    /// rank's chunk of `buffer` (`communicator.chunk(index, of: count)`, sizes differing by at
    /// most one element when the group does not divide `count`) holds Σ (or mean) over ranks;
    /// the other chunks are left as they were. Each rank sends `count` − its own chunk.
    public func reduceScatter(inPlace buffer: UnsafeMutablePointer<Float>, count: Int, _ op: ReduceOperation = .sum, name: String) {
        record(name, .reduceScatter, elements: count)
        guard size > 1 else { return }
        let mine = communicator.chunk(index, of: count)
        post(buffer)
        reduce(mine, into: buffer + mine.lowerBound, op)
        communicator.barrier.wait()
    }

    /// All-gather in place: every rank's chunk of `buffer` (as in `reduceScatter(inPlace:)`) is
    /// copied to the same place on every other rank.
    public func allGather(inPlace buffer: UnsafeMutablePointer<Float>, count: Int, name: String) {
        record(name, .allGather, elements: count)
        guard size > 1 else { return }
        let c = communicator
        post(buffer)
        for q in 0 ..< size where q != index {
            let theirs = c.chunk(q, of: count)
            guard let source = c.posted[q] else { preconditionFailure("rank \(q) posted no buffer") }
            (buffer + theirs.lowerBound).update(from: source + theirs.lowerBound, count: theirs.count)
            c.count(theirs.count, from: q, to: index)
        }
        c.barrier.wait()
    }

    /// Broadcast `count` floats from `root` to every rank, along the chain root → root + 1 → …
    /// (NCCL's pipelined ring broadcast): every rank but the last of the chain forwards the whole
    /// buffer once, so each sends S bytes and the last sends none.
    public func broadcast(_ buffer: UnsafeMutablePointer<Float>, count: Int, root: Int, name: String) {
        precondition((0 ..< size).contains(root), "broadcast root \(root) outside 0..<\(size)")
        record(name, .broadcast, elements: count)
        guard size > 1 else { return }
        let c = communicator
        let position = (index - root + size) % size
        post(buffer)
        for step in 1 ..< size {
            if position == step {
                let previous = (index - 1 + size) % size
                guard let source = c.posted[previous] else { preconditionFailure("rank \(previous) posted no buffer") }
                buffer.update(from: source, count: count)
                c.count(count, from: previous, to: index)
            }
            c.barrier.wait()
        }
    }

    /// Send `count` floats of `shape` to rank `destination` without waiting for it to receive.
    /// The event is recorded on the sender only: one send/recv pair is one transfer.
    /// - Parameter tag: checked by the receiver (a micro-batch index, say).
    public func send(_ values: UnsafePointer<Float>, count: Int, shape: [Int], to destination: Int, tag: Int = 0, name: String) {
        precondition((0 ..< size).contains(destination) && destination != index,
                     "rank \(index) cannot send to \(destination) in a group of \(size)")
        record(name, .sendRecv, elements: count,
               group: RankGroup(name: communicator.group, size: 2, stride: abs(destination - index)))
        let message = Message(values: Array(UnsafeBufferPointer(start: values, count: count)), shape: shape, tag: tag)
        communicator.mailboxes[index * size + destination].put(message)
        communicator.count(count, from: index, to: destination)
    }

    /// Send a whole tensor.
    public func send(_ tensor: Tensor, to destination: Int, tag: Int = 0, name: String) {
        send(tensor.data, count: tensor.count, shape: tensor.shape, to: destination, tag: tag, name: name)
    }

    /// Receive the next message from rank `source` as a new tensor in this rank's context, waiting
    /// until it arrives. It must carry `tag`.
    public func receive(from source: Int, tag: Int = 0) -> Tensor {
        precondition((0 ..< size).contains(source) && source != index,
                     "rank \(index) cannot receive from \(source) in a group of \(size)")
        let message = communicator.mailboxes[source * size + index].take()
        precondition(message.tag == tag, "rank \(index) expected tag \(tag) from rank \(source), got \(message.tag)")
        return Tensor(message.values, shape: message.shape, context: context)
    }
}
