import Engine

/// The roofline time of one operation on a device (Williams, Waterman & Patterson 2009): whichever
/// is slower of doing its FLOPs at the achievable peak of its format and moving its bytes at the
/// achievable memory bandwidth, plus the cost of launching the kernel.
///
///     let t = Roofline(profile: a100).seconds(event)   // max(compute, memory) + launch
///
/// Matrix products and convolutions reach `efficiency.matmul(intensity:)` of the peak — less the
/// fewer FLOPs they do per byte of operands (small or thin products: a small hidden size, a
/// tensor-parallel shard, an attention head); every other kind of op `efficiency.vector`.
/// Collectives recorded in a trace are priced by `CollectiveCost`, not here.
public struct Roofline: Sendable {
    public let profile: HardwareProfile

    public init(profile: HardwareProfile) { self.profile = profile }

    /// Achievable FLOP/s for `kind` work in `dtype`, for a product of arithmetic `intensity`
    /// (FLOPs per byte of operands; infinite: a large product at the profile's plateau).
    public func achievableFLOPS(_ kind: OpKind, _ dtype: DType, intensity: Double = .infinity) -> Double {
        let e = profile.efficiency
        return profile.peakFLOPS(dtype) * (kind == .matmul || kind == .conv ? e.matmul(intensity: intensity) : e.vector)
    }

    /// Seconds of compute alone, of memory traffic alone, and the launch overhead of `event`.
    public func parts(_ event: OpEvent) -> (compute: Double, memory: Double, launch: Double) {
        let bytes = event.bytesRead + event.bytesWritten
        let flops = achievableFLOPS(event.kind, event.dtype, intensity: bytes > 0 ? event.flops / bytes : .infinity)
        let compute = event.flops > 0 && flops > 0 ? event.flops / flops : 0
        let memory = bytes / (profile.memoryBandwidth * profile.efficiency.memory)
        return (compute, memory, profile.launchOverhead)
    }

    /// max(compute, memory) + launch overhead, in seconds.
    public func seconds(_ event: OpEvent) -> Double {
        let p = parts(event)
        return max(p.compute, p.memory) + p.launch
    }

    /// The sum over `events` of their roofline times, with how much of it was compute-bound.
    public func cost(_ events: [OpEvent]) -> OpsCost {
        var c = OpsCost()
        for e in events {
            let p = parts(e)
            c.seconds += max(p.compute, p.memory) + p.launch
            c.computeSeconds += p.compute
            c.memorySeconds += p.memory
            c.launchSeconds += p.launch
            c.flops += e.flops
            c.bytes += e.bytesRead + e.bytesWritten
            c.count += 1
        }
        return c
    }
}

/// The roofline cost of a list of operations.
public struct OpsCost: Codable, Equatable, Sendable {
    /// Σ max(compute, memory) + launch: the time the operations take one after another.
    public var seconds = 0.0
    /// Σ of the compute times alone (how busy the arithmetic units are).
    public var computeSeconds = 0.0
    /// Σ of the memory times alone.
    public var memorySeconds = 0.0
    /// Σ of launch overheads.
    public var launchSeconds = 0.0
    public var flops = 0.0
    public var bytes = 0.0
    public var count = 0

    public init() {}

    /// Element-wise sum.
    public static func + (a: OpsCost, b: OpsCost) -> OpsCost {
        var c = a
        c.seconds += b.seconds; c.computeSeconds += b.computeSeconds; c.memorySeconds += b.memorySeconds
        c.launchSeconds += b.launchSeconds; c.flops += b.flops; c.bytes += b.bytes; c.count += b.count
        return c
    }

    /// Every figure times `k` (the same operations run `k` times).
    public func scaled(by k: Double) -> OpsCost {
        var c = self
        c.seconds *= k; c.computeSeconds *= k; c.memorySeconds *= k; c.launchSeconds *= k
        c.flops *= k; c.bytes *= k; c.count = Int((Double(c.count) * k).rounded())
        return c
    }
}
