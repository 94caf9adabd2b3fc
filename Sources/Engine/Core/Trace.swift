/// What kind of work an operation does; the cost model prices each kind by its own roofline.
public enum OpKind: String, Codable, Sendable, CaseIterable {
    case matmul, conv, elementwise, normalization, pooling, softmax, loss, embedding, optimizer, copy, collective
}

/// Which part of a training step an operation belongs to.
public enum Phase: String, Codable, Sendable, CaseIterable {
    case forward, backward, optimizer, other
}

/// One operation as executed: its FLOPs (in the dtype it ran in) and the bytes it read and wrote.
public struct OpEvent: Codable, Sendable, Equatable {
    public var name: String
    public var kind: OpKind
    public var phase: Phase
    public var dtype: DType
    public var flops: Double
    public var bytesRead: Double
    public var bytesWritten: Double

    public init(name: String, kind: OpKind, phase: Phase, dtype: DType, flops: Double, bytesRead: Double, bytesWritten: Double) {
        self.name = name; self.kind = kind; self.phase = phase; self.dtype = dtype
        self.flops = flops; self.bytesRead = bytesRead; self.bytesWritten = bytesWritten
    }
}

/// Running sums over many operations.
public struct OpTotals: Codable, Sendable, Equatable {
    public var count = 0
    public var flops = 0.0
    public var bytesRead = 0.0
    public var bytesWritten = 0.0

    public init() {}

    mutating func add(_ e: OpEvent) {
        count += 1; flops += e.flops; bytesRead += e.bytesRead; bytesWritten += e.bytesWritten
    }

    mutating func subtract(_ o: OpTotals) {
        count -= o.count; flops -= o.flops; bytesRead -= o.bytesRead; bytesWritten -= o.bytesWritten
    }
}

/// A summary of everything an execution context has seen: the shape the cost model reads.
public struct TraceSummary: Codable, Sendable, Equatable {
    public var byKind: [OpKind: OpTotals] = [:]
    public var byPhase: [Phase: OpTotals] = [:]
    public var flopsByDType: [DType: Double] = [:]
    public var peakBytes = 0.0
    public var allocations = 0
    public var frees = 0

    public init() {}

    /// Written as named, so a snake_case encoder gives `flops_by_dtype`, not `flops_by_d_type`.
    enum CodingKeys: String, CodingKey {
        case allocations, frees
        case byKind = "by_kind", byPhase = "by_phase", flopsByDType = "flops_by_dtype", peakBytes = "peak_bytes"
    }

    /// The work counted since `earlier` (a snapshot of the same running totals); the peak and
    /// allocation counts are this summary's own.
    public func subtracting(_ earlier: TraceSummary) -> TraceSummary {
        var d = self
        for (k, e) in earlier.byKind { d.byKind[k]?.subtract(e) }
        for (p, e) in earlier.byPhase { d.byPhase[p]?.subtract(e) }
        for (t, f) in earlier.flopsByDType { d.flopsByDType[t, default: 0] -= f }
        d.byKind = d.byKind.filter { $0.value.count > 0 }
        d.byPhase = d.byPhase.filter { $0.value.count > 0 }
        d.flopsByDType = d.flopsByDType.filter { $0.value != 0 }
        return d
    }

    public var flops: Double { byKind.values.reduce(0) { $0 + $1.flops } }
    public var bytesRead: Double { byKind.values.reduce(0) { $0 + $1.bytesRead } }
    public var bytesWritten: Double { byKind.values.reduce(0) { $0 + $1.bytesWritten } }
    public func flops(_ kind: OpKind) -> Double { byKind[kind]?.flops ?? 0 }
    public func flops(_ phase: Phase) -> Double { byPhase[phase]?.flops ?? 0 }
}

// Dictionaries keyed by these encode as JSON objects ({"matmul": ...}), not key/value arrays.
extension OpKind: CodingKeyRepresentable {}
extension Phase: CodingKeyRepresentable {}
extension DType: CodingKeyRepresentable {}

/// Which collective a group of ranks runs (the NCCL names).
public enum CollectiveKind: String, Codable, Sendable, CaseIterable {
    case allReduce = "all_reduce", reduceScatter = "reduce_scatter", allGather = "all_gather", broadcast
    case sendRecv = "send_recv"
    /// Every rank sends a different 1/n of its payload to each other rank (the token dispatch and
    /// combine of expert parallelism).
    case allToAll = "all_to_all"
}

/// The ranks a collective runs over, as a training plan lays them out: `size` ranks `stride` apart
/// (tensor-parallel groups are neighbours, stride 1; data-parallel groups stride over the
/// tensor-parallel ranks; pipeline neighbours stride over both).
public struct RankGroup: Codable, Sendable, Equatable, Hashable {
    public var name: String
    public var size: Int
    public var stride: Int
    public init(name: String, size: Int, stride: Int) { self.name = name; self.size = size; self.stride = stride }
}

/// One collective as executed: what it does, over which ranks, and its payload per rank in bytes
/// (the buffer each rank contributes: the whole tensor for an all-reduce, the full gathered tensor
/// for an all-gather or reduce-scatter, the message for a send).
public struct CollectiveEvent: Codable, Sendable, Equatable {
    public var name: String
    public var kind: CollectiveKind
    public var phase: Phase
    public var group: RankGroup
    public var bytes: Double
    /// How many times it runs (per layer, per micro-batch...): one record stands for them all.
    public var count: Double

    public init(name: String, kind: CollectiveKind, phase: Phase, group: RankGroup, bytes: Double, count: Double = 1) {
        self.name = name; self.kind = kind; self.phase = phase; self.group = group; self.bytes = bytes; self.count = count
    }
}
