/// Where every operation reports what it executes: the cost seam between the engine and the cost model.
///
/// In `.real` mode numbers are computed and counted; in `.meta` mode tensors carry shapes only and
/// kernels are skipped, so the same model-building and training-step code traces a model of any
/// size in milliseconds.
///
///     let ctx = ExecutionContext(mode: .meta)
///     let model = try Model(spec: gpt175B, inputShape: [2048], context: ctx)
///     model.traceTrainingStep(batch: 1)
///     print(ctx.summary.flops, ctx.summary.peakBytes)
///
/// A context is used from one thread at a time (kernels may fan out internally, but only the
/// driving thread records). Simulated ranks each own a context.
public final class ExecutionContext {
    public enum Mode: String, Codable, Sendable { case real, meta }

    public let mode: Mode
    @inline(__always) public var isMeta: Bool { mode == .meta }

    /// The phase ops are attributed to (set by the training loop).
    public var phase: Phase = .forward
    /// The dtype compute ops run in (FP32 unless a precision policy says otherwise).
    public var computeDType: DType = .fp32
    /// Keep every event (for a one-step trace) rather than only running totals.
    public var recordsEvents: Bool

    /// Sees every layer boundary of a `Sequential` in real mode: how precision emulation rounds
    /// activations and gradients, and how quantization-aware training fake-quantizes them.
    public var boundaryObserver: LayerBoundaryObserver?

    public private(set) var events: [OpEvent] = []
    /// Every collective this rank took part in, in order.
    public private(set) var collectives: [CollectiveEvent] = []
    public private(set) var summary = TraceSummary()
    public private(set) var liveBytes = 0.0

    public init(mode: Mode = .real, recordsEvents: Bool = false) {
        self.mode = mode
        self.recordsEvents = recordsEvents
    }

    /// Report one operation. `read` and `written` are element counts, priced at `dtype`.
    @inline(__always)
    public func record(_ name: String, _ kind: OpKind, flops: Double, read: Double, written: Double, dtype: DType? = nil) {
        let dt = dtype ?? computeDType
        let event = OpEvent(name: name, kind: kind, phase: phase, dtype: dt, flops: flops,
                            bytesRead: read * dt.bytes, bytesWritten: written * dt.bytes)
        summary.byKind[kind, default: OpTotals()].add(event)
        summary.byPhase[phase, default: OpTotals()].add(event)
        summary.flopsByDType[dt, default: 0] += flops
        if recordsEvents { events.append(event) }
    }

    /// Report a collective this rank took part in (always kept: a step runs few of them).
    public func recordCollective(_ event: CollectiveEvent) {
        var e = event
        e.phase = phase
        collectives.append(e)
    }

    /// Report an allocation of `bytes`; peak live bytes follow.
    @inline(__always)
    public func allocate(bytes: Double) {
        liveBytes += bytes
        summary.allocations += 1
        if liveBytes > summary.peakBytes { summary.peakBytes = liveBytes }
    }

    /// Report that `bytes` were freed.
    @inline(__always)
    public func free(bytes: Double) {
        liveBytes -= bytes
        summary.frees += 1
    }

    /// Forget counted work and events (live memory stays; the peak restarts from what is live now).
    public func resetCounters() {
        let allocations = summary.allocations, frees = summary.frees
        summary = TraceSummary()
        summary.allocations = allocations
        summary.frees = frees
        summary.peakBytes = liveBytes
        events.removeAll(keepingCapacity: true)
        collectives.removeAll(keepingCapacity: true)
    }

    /// Count `body` on its own: the returned summary holds only what `body` executed (its peak is
    /// the live bytes it reached), and the context's running totals and events are left as they
    /// were — the peak only grows if `body` went higher.
    public func measure(_ body: () throws -> Void) rethrows -> TraceSummary {
        let saved = summary, savedEvents = events
        summary = TraceSummary()
        summary.peakBytes = liveBytes
        events.removeAll(keepingCapacity: true)
        defer {
            let measured = summary
            summary = saved
            summary.peakBytes = max(saved.peakBytes, measured.peakBytes)
            summary.allocations += measured.allocations
            summary.frees += measured.frees
            events = savedEvents
        }
        try body()
        return summary
    }

    /// As `measure`, also returning every operation `body` executed (events are recorded for it
    /// whatever `recordsEvents` says).
    public func measureEvents(_ body: () throws -> Void) rethrows -> (summary: TraceSummary, events: [OpEvent]) {
        let recording = recordsEvents
        recordsEvents = true
        defer { recordsEvents = recording }
        var captured: [OpEvent] = []
        let summary = try measure {
            try body()
            captured = events
        }
        return (summary, captured)
    }

    /// A tensor of `shape`, reusing `existing` when its capacity suffices (no allocation in a
    /// training step's inner loop once buffers have grown to the batch size).
    @inline(__always)
    public func buffer(_ existing: Tensor?, _ shape: [Int], dtype: DType = .fp32) -> Tensor {
        if let t = existing, t.capacity >= shapeCount(shape) {
            t.reshape(shape)
            return t
        }
        return Tensor(shape: shape, context: self, dtype: dtype)
    }
}

@inline(__always)
func shapeCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }

/// Called at the layer boundaries of every `Sequential` in real mode: with each layer's output
/// after its forward, and with the gradient of that output before its backward. An observer may
/// change the values in place (round them to 16 bits, fake-quantize them, add a gradient).
public protocol LayerBoundaryObserver: AnyObject {
    func forwardOutput(_ y: Tensor, of layer: Layer, training: Bool)
    func backwardGradient(_ dy: Tensor, of layer: Layer)
}
