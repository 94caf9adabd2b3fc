import Engine

/// What serving a model costs on a device, from the operations one forward pass executes:
/// batch-1 latency (online prediction and streaming), throughput at a batch size (batch
/// prediction), memory and energy per inference.
///
///     let cost = InferenceCost(batch1: events1, batched: eventsB, batch: 64, weightBytes: 420_000, on: jetson)
///     cost.latencySeconds      // Σ roofline over the batch-1 pass
///
/// Memory is the weights as stored plus twice the largest output any operation writes at batch 1
/// (a layer's input and output: what a runtime that frees activations as it goes keeps live); energy is idle power for the
/// whole time plus the dynamic power (peak − idle) for the time the device is busy, Σ max(compute,
/// memory).
public struct InferenceCost: Codable, Equatable, Sendable {
    public var latencySeconds: Double
    /// Samples per second at `batch`.
    public var throughput: Double
    public var batch: Int
    public var memoryBytes: Double
    public var energyJoules: Double
    /// Whether the model and its live activations fit in the device's memory.
    public var fits: Bool

    public init(batch1: [OpEvent], batched: [OpEvent], batch: Int, weightBytes: Double, on profile: HardwareProfile) {
        let roofline = Roofline(profile: profile)
        let one = roofline.cost(batch1), many = roofline.cost(batched)
        latencySeconds = one.seconds
        throughput = many.seconds > 0 ? Double(batch) / many.seconds : 0
        self.batch = batch
        let live = 2 * (batch1.map(\.bytesWritten).max() ?? 0)
        memoryBytes = weightBytes + live
        let busy = max(0, one.seconds - one.launchSeconds)
        energyJoules = profile.power.idle * one.seconds + (profile.power.peak - profile.power.idle) * busy
        fits = memoryBytes <= profile.memoryBytes
    }

    /// The metrics an engine trial reports for a profile, keyed `<metric>@<profile>`.
    public func metrics(profile name: String) -> [String: Double] {
        [
            "latency_ms@\(name)": latencySeconds * 1000,
            "throughput@\(name)": throughput,
            "memory_mb@\(name)": memoryBytes / 1_048_576,
            "energy_mj@\(name)": energyJoules * 1000,
        ]
    }

}
