import Engine
import Hardware

/// The collectives one training step runs, as the cost model prices them and as simulated ranks
/// execute them: one list, so the estimate and the ranks cannot disagree about what moves.
///
///     let events = StepCollectives.dataParallel(zero: 2, group: plan.dataGroup, parameterBytes: 4 * psi, microBatches: 4)
///     comm.seconds(events)                       // the estimate's data-parallel time
///     events.reduce(0) { $0 + CollectiveCost.bytesSent($1) * $1.count }   // bytes each rank sends
public enum StepCollectives {
    /// Data-parallel traffic of one step with `microBatches` micro-batches, where DeepSpeed runs it:
    ///
    ///     stage 0  all-reduce of the gradients once, at the accumulation boundary
    ///     stage 1  reduce-scatter of the gradients at the boundary; all-gather of the updated weights
    ///     stage 2  reduce-scatter after every micro-batch's backward (each rank keeps only its
    ///              gradient shard); all-gather of the updated weights
    ///     stage 3  all-gather of the weights before every micro-batch's forward and again before
    ///              its backward (they are released in between); reduce-scatter after every backward
    ///
    /// so stages 0–2 move 2Ψ per rank and step without accumulation and stage 3 moves 3Ψ
    /// (Rajbhandari et al. 2019, §7). Empty for a group of one rank.
    /// - Parameter parameterBytes: the payload: the bytes of the parameters the group shares.
    public static func dataParallel(zero: Int, group: RankGroup, parameterBytes: Double, microBatches m: Int) -> [CollectiveEvent] {
        guard group.size > 1 else { return [] }
        let micro = Double(max(m, 1))
        func event(_ name: String, _ kind: CollectiveKind, _ phase: Phase, _ count: Double) -> CollectiveEvent {
            CollectiveEvent(name: name, kind: kind, phase: phase, group: group, bytes: parameterBytes, count: count)
        }
        switch zero {
        case 0:
            return [event("gradients", .allReduce, .backward, 1)]
        case 1:
            return [event("gradients", .reduceScatter, .backward, 1), event("parameters", .allGather, .optimizer, 1)]
        case 2:
            return [event("gradients", .reduceScatter, .backward, micro), event("parameters", .allGather, .optimizer, 1)]
        default:
            return [event("parameters.forward", .allGather, .forward, micro),
                    event("parameters.backward", .allGather, .backward, micro),
                    event("gradients", .reduceScatter, .backward, micro)]
        }
    }

    /// Point-to-point traffic of one pipeline stage in one step: the activations of every
    /// micro-batch sent to the next stage and the gradients of its inputs sent back to the
    /// previous one. The first stage only sends forward, the last only backward.
    /// - Parameters:
    ///   - stage: this stage, 0 ..< `stages`.
    ///   - inputBytes: one micro-batch's activations entering the stage (their gradient goes back).
    ///   - outputBytes: one micro-batch's activations leaving it.
    public static func pipeline(stage: Int, stages: Int, inputBytes: Double, outputBytes: Double, microBatches m: Int) -> [CollectiveEvent] {
        guard stages > 1 else { return [] }
        let pair = RankGroup(name: "pipeline", size: 2, stride: 1)
        var events: [CollectiveEvent] = []
        if stage < stages - 1 {
            events.append(CollectiveEvent(name: "activations", kind: .sendRecv, phase: .forward, group: pair,
                                          bytes: outputBytes, count: Double(m)))
        }
        if stage > 0 {
            events.append(CollectiveEvent(name: "activation_gradients", kind: .sendRecv, phase: .backward, group: pair,
                                          bytes: inputBytes, count: Double(m)))
        }
        return events
    }

    /// What crossing one pipeline-stage boundary moves, one way, for one micro-batch of
    /// `activationBytes` (its (b, s, h) activations, or their gradient going back). Each
    /// tensor-parallel rank holds the whole activation unless sequence parallelism splits it; with
    /// Megatron's scatter/gather (Narayanan et al. 2021, §4.1) each rank sends only its 1/t slice
    /// to its peer and the receiving stage all-gathers the slices over the tensor group (NVLink),
    /// so the t ranks no longer each push the whole tensor over the slower inter-node link.
    public static func pipelineTransfer(activationBytes: Double, neighbours: RankGroup, tensorGroup: RankGroup,
                                        sequenceParallel: Bool, scatterGather: Bool) -> [CollectiveEvent] {
        let t = Double(tensorGroup.size)
        let split = tensorGroup.size > 1 && (sequenceParallel || scatterGather)
        var events = [CollectiveEvent(name: "pipeline.send", kind: .sendRecv, phase: .forward, group: neighbours,
                                      bytes: split ? activationBytes / t : activationBytes)]
        if split, !sequenceParallel {
            events.append(CollectiveEvent(name: "pipeline.gather", kind: .allGather, phase: .forward, group: tensorGroup,
                                          bytes: activationBytes))
        }
        return events
    }

    /// The all-reduce that sums the gradients of a parameter two stages share (a language-model
    /// head tied to the token embedding, as Megatron-LM keeps it on the first and last stage).
    public static func tiedParameters(bytes: Double, group: RankGroup) -> [CollectiveEvent] {
        bytes > 0 ? [CollectiveEvent(name: "embedding", kind: .allReduce, phase: .backward, group: group, bytes: bytes)] : []
    }

    /// Tensor-parallel traffic of one step on a stage of `blocks` transformer blocks (Megatron-LM's
    /// f and g, Shoeybi et al. 2019): per block and micro-batch two all-reduces of the block's
    /// (b, s, h) input forward and two backward, and two more for every forward run again
    /// (`recomputedBlocks` per step: full recomputation reruns every block once per micro-batch).
    /// Empty for a group of one rank.
    /// - Parameter activationBytes: one micro-batch's activations entering a block.
    public static func tensorParallel(blocks: Int, recomputedBlocks: Int = 0, activationBytes: Double,
                                      group: RankGroup, microBatches m: Int) -> [CollectiveEvent] {
        guard group.size > 1, blocks > 0 else { return [] }
        return [
            CollectiveEvent(name: "tensor.activations", kind: .allReduce, phase: .forward, group: group,
                            bytes: activationBytes, count: Double(2 * (blocks * max(m, 1) + recomputedBlocks))),
            CollectiveEvent(name: "tensor.activation_gradients", kind: .allReduce, phase: .backward, group: group,
                            bytes: activationBytes, count: Double(2 * blocks * max(m, 1))),
        ]
    }

    /// The token all-to-alls of one micro-batch through `layers` MoE layers (GShard, Lepikhin et al.
    /// 2020, §2.3; Megatron-Core's alltoall token dispatcher): forward, a dispatch that sends each
    /// token to the ranks holding its top-k experts and a combine that brings the outputs back;
    /// backward, the same two for the gradients; a forward recomputed (`recomputedLayers`) runs its
    /// two again. Each moves `tokenBytes` × k × c: every token's hidden vector once per expert slot
    /// (c the capacity factor, 1 dropless). Empty for a group of one rank (the experts are local).
    public static func expertParallel(layers: Int, recomputedLayers: Int = 0, tokenBytes: Double, slots: Double,
                                      group: RankGroup) -> [CollectiveEvent] {
        guard group.size > 1, layers > 0 else { return [] }
        return [
            CollectiveEvent(name: "expert.dispatch_combine", kind: .allToAll, phase: .forward, group: group,
                            bytes: tokenBytes * slots, count: Double(2 * (layers + recomputedLayers))),
            CollectiveEvent(name: "expert.dispatch_combine_gradients", kind: .allToAll, phase: .backward, group: group,
                            bytes: tokenBytes * slots, count: Double(2 * layers)),
        ]
    }

    /// Ring attention's key/value traffic in one layer for one micro-batch (Liu et al. 2023, §3;
    /// Megatron-Core's context parallelism): each of the cp ranks holds K and V for its s/cp tokens
    /// (`chunkBytes`, both together) and passes a chunk to its ring neighbour cp − 1 times in the
    /// forward pass, so every query block meets every key block; the backward pass passes the K/V
    /// chunks and their gradient accumulators round the ring, twice the forward traffic. The ring
    /// wraps round the whole context group, so the sends run over the slowest link it spans.
    public static func contextParallel(chunkBytes: Double, group: RankGroup) -> (forward: CollectiveEvent, backward: CollectiveEvent)? {
        guard group.size > 1 else { return nil }
        let steps = Double(group.size - 1)
        return (CollectiveEvent(name: "context.kv", kind: .sendRecv, phase: .forward, group: group, bytes: chunkBytes, count: steps),
                CollectiveEvent(name: "context.kv_gradients", kind: .sendRecv, phase: .backward, group: group, bytes: chunkBytes, count: 2 * steps))
    }

    /// Bytes one rank sends over `events`: Σ bus-bandwidth factor × payload × count.
    public static func bytesSent(_ events: [CollectiveEvent]) -> Double {
        events.reduce(0) { $0 + CollectiveCost.bytesSent($1) * $1.count }
    }
}
