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
