import Engine

/// What one device can do, and how devices of its kind are connected: the numbers the cost model
/// turns a trace into seconds, bytes and joules with.
///
/// A profile is a JSON document (the built-in library, or a user's file):
///
///     {"name": "A100-SXM-80GB", "kind": "gpu",
///      "sources": ["NVIDIA A100 Tensor Core GPU datasheet, 2021"],
///      "peak_tflops": {"fp32": 19.5, "tf32": 156, "fp16": 312, "bf16": 312, "int8": 624},
///      "memory_gib": 80, "memory_bandwidth_gbs": 2039,
///      "efficiency": {"matmul": 0.7, "memory": 0.8},
///      "launch_overhead_us": 5, "power": {"idle": 60, "peak": 400},
///      "interconnect": {"devices_per_node": 8,
///                       "intra_node": {"kind": "nvlink3", "bandwidth_gbs": 300, "latency_us": 3},
///                       "inter_node": {"kind": "hdr-infiniband", "bandwidth_gbs": 25, "latency_us": 5},
///                       "host_link": {"kind": "pcie4", "bandwidth_gbs": 32, "latency_us": 2},
///                       "host_memory_gib": 1024},
///      "flash_attention": true,
///      "price_per_hour_usd": 5.1207,
///      "price_source": "AWS p4de.24xlarge on-demand list price, us-east-1, 2024: $40.9657/h ÷ 8 A100-SXM4-80GB"}
///
/// Units: peak FLOP/s in TFLOP/s (10¹²), dense — figures quoted only with 2:4 sparsity are halved
/// before they are written here; bandwidths in GB/s (10⁹ bytes per second, one direction, per
/// device); capacities in GiB (2³⁰ bytes); latencies and launch overhead in microseconds; power
/// in watts; price in US dollars per device-hour.
public struct HardwareProfile: Codable, Equatable, Sendable {
    /// The name people call the device by (`A100-SXM-80GB`); looked up case-insensitively.
    public var name: String
    /// gpu, tpu, edge (an embedded SoC such as a Jetson) or cpu.
    public var kind: Kind
    /// The datasheets and papers the figures come from.
    public var sources: [String]
    /// Dense peak TFLOP/s (TOPS for integer formats) by format, for the formats the device has
    /// units for — the list of its native formats: a format left out is one it lacks.
    public var peakTFLOPS: [DType: Double]
    /// Device memory (for a SoC: the memory the accelerator shares with the CPU).
    public var memoryGiB: Double
    /// Peak device-memory bandwidth, GB/s.
    public var memoryBandwidthGBs: Double
    /// Fractions of the peaks a well-tuned kernel reaches.
    public var efficiency: Efficiency
    /// Fixed cost of starting one kernel, µs.
    public var launchOverheadMicroseconds: Double
    /// Board power at idle and at full load, W.
    public var power: Power
    public var interconnect: Interconnect
    /// What renting one device for an hour costs, in US dollars: a cloud instance's on-demand
    /// price over the devices it holds (so its host's share is included). Nil for a device that is
    /// bought rather than rented; cost per token is then unknown.
    public var pricePerHourUSD: Double?
    /// Where the price comes from: the instance, region, kind of price and date.
    public var priceSource: String?
    /// Whether the training stacks people run on this device use FlashAttention (Dao et al. 2022)
    /// by default: the default of a plan that does not say (false when a profile does not say).
    public var flashAttention: Bool

    public enum Kind: String, Codable, Sendable, CaseIterable { case gpu, tpu, edge, cpu }

    /// Achievable fractions of the datasheet peaks.
    public struct Efficiency: Codable, Equatable, Sendable {
        /// Of the peak FLOP/s, for large matrix products and convolutions: the plateau a product
        /// reaches when its arithmetic intensity is far above `matmulHalfIntensity`
        /// (`matmul(intensity:)`).
        public var matmul: Double
        /// The arithmetic intensity (FLOPs per byte of operands) at which a matrix product runs at
        /// half of `matmul`; 0 makes every product run at `matmul` whatever its shape.
        public var matmulHalfIntensity: Double
        /// Of the peak FLOP/s, for everything else (element-wise, normalisation, softmax).
        public var vector: Double
        /// Of the memory bandwidth.
        public var memory: Double
        /// Of a link's bandwidth, for collectives (NCCL's bus bandwidth against the link's).
        public var network: Double

        public init(matmul: Double = 0.7, matmulHalfIntensity: Double = 0, vector: Double = 0.5, memory: Double = 0.8,
                    network: Double = 0.8) {
            self.matmul = matmul; self.matmulHalfIntensity = matmulHalfIntensity
            self.vector = vector; self.memory = memory; self.network = network
        }
    }

    /// Board power, W: what an idle device draws, and what it draws at full load.
    public struct Power: Codable, Equatable, Sendable {
        public var idle: Double
        public var peak: Double
        public init(idle: Double, peak: Double) { self.idle = idle; self.peak = peak }
    }

    /// One kind of connection: its name, bandwidth per device and direction (GB/s), latency (µs).
    public struct Link: Codable, Equatable, Sendable {
        public var kind: String
        public var bandwidthGBs: Double
        public var latencyMicroseconds: Double
        public init(kind: String, bandwidthGBs: Double, latencyMicroseconds: Double) {
            self.kind = kind; self.bandwidthGBs = bandwidthGBs; self.latencyMicroseconds = latencyMicroseconds
        }
    }

    /// How devices are put together: how many share a node, the links inside and between nodes,
    /// and the host each node has.
    public struct Interconnect: Codable, Equatable, Sendable {
        public var devicesPerNode: Int
        /// Between devices of one node (NVLink, PCIe, ICI); nil for a device that stands alone.
        public var intraNode: Link?
        /// Between nodes (InfiniBand, Ethernet), per device; nil where nodes are not networked.
        public var interNode: Link?
        /// Between a device and its host's memory (PCIe, or the SoC's shared memory).
        public var hostLink: Link?
        /// Host memory of one node, GiB (where optimizer states are offloaded to).
        public var hostMemoryGiB: Double

        public init(devicesPerNode: Int, intraNode: Link?, interNode: Link?, hostLink: Link?, hostMemoryGiB: Double) {
            self.devicesPerNode = devicesPerNode; self.intraNode = intraNode; self.interNode = interNode
            self.hostLink = hostLink; self.hostMemoryGiB = hostMemoryGiB
        }
    }

    public init(name: String, kind: Kind, sources: [String], peakTFLOPS: [DType: Double], memoryGiB: Double,
                memoryBandwidthGBs: Double, efficiency: Efficiency = Efficiency(), launchOverheadMicroseconds: Double,
                power: Power, interconnect: Interconnect, pricePerHourUSD: Double? = nil, priceSource: String? = nil,
                flashAttention: Bool = false) {
        self.name = name; self.kind = kind; self.sources = sources; self.peakTFLOPS = peakTFLOPS
        self.memoryGiB = memoryGiB; self.memoryBandwidthGBs = memoryBandwidthGBs; self.efficiency = efficiency
        self.launchOverheadMicroseconds = launchOverheadMicroseconds; self.power = power; self.interconnect = interconnect
        self.pricePerHourUSD = pricePerHourUSD; self.priceSource = priceSource; self.flashAttention = flashAttention
    }
}

// MARK: - What the cost model asks of a profile

extension HardwareProfile {
    /// Formats tried, in order, when a profile gives no peak for a format: a device without FP8
    /// units runs FP8 work in FP16 (or BF16); FP16 work runs on BF16 units where only those exist
    /// (a TPU); one without TF32 or BF16 units runs that work at its FP32 rate (a V100 has no BF16
    /// units, so BF16 there is emulated in FP32); sub-byte integers run on the int8 path.
    static let fallbacks: [DType: [DType]] = [
        .fp32: [], .int32: [.fp32], .tf32: [.fp32], .bf16: [.fp32], .fp16: [.bf16, .fp32],
        .fp8: [.fp16, .bf16, .fp32], .int8: [.fp16, .fp32], .int4: [.int8, .fp16, .fp32],
        .int2: [.int4, .int8, .fp16, .fp32], .binary: [.int8, .fp16, .fp32],
    ]

    /// Peak FLOP/s (not TFLOP/s) for work in `dtype`, following `fallbacks` when the device has no
    /// units for it.
    public func peakFLOPS(_ dtype: DType) -> Double {
        if let p = peakTFLOPS[dtype] { return p * 1e12 }
        for d in Self.fallbacks[dtype] ?? [] { if let p = peakTFLOPS[d] { return p * 1e12 } }
        return (peakTFLOPS[.fp32] ?? 0) * 1e12
    }

    /// The training formats the device has units for: those `peak_tflops` gives a peak for. A
    /// format without a peak has no units of its own (FP8 before Hopper and Ada, BF16 and TF32 on
    /// a V100 or T4, FP16 on a TPU): the device would run it in another format, no faster, so a
    /// training plan in it is refused (`ParallelPlan.checkPrecision(on:)`).
    public var trainingFormats: [FloatFormat] { FloatFormat.allCases.filter { peakTFLOPS[$0.dtype] != nil } }

    /// Whether the device has units for training in `format`.
    public func hasUnits(for format: FloatFormat) -> Bool { peakTFLOPS[format.dtype] != nil }

    /// The format a peak for `dtype` is really read from (itself, or its fallback).
    public func executedDType(_ dtype: DType) -> DType {
        if peakTFLOPS[dtype] != nil { return dtype }
        return (Self.fallbacks[dtype] ?? []).first { peakTFLOPS[$0] != nil } ?? .fp32
    }

    /// Device memory in bytes.
    public var memoryBytes: Double { memoryGiB * 1_073_741_824 }
    /// Device-memory bandwidth in bytes per second.
    public var memoryBandwidth: Double { memoryBandwidthGBs * 1e9 }
    /// Kernel-launch overhead in seconds.
    public var launchOverhead: Double { launchOverheadMicroseconds * 1e-6 }
}

// MARK: - Reading a profile

extension HardwareProfile {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, kind, sources, efficiency, power, interconnect
        case peakTFLOPS = "peak_tflops"
        case memoryGiB = "memory_gib"
        case memoryBandwidthGBs = "memory_bandwidth_gbs"
        case launchOverheadMicroseconds = "launch_overhead_us"
        case pricePerHourUSD = "price_per_hour_usd"
        case priceSource = "price_source"
        case flashAttention = "flash_attention"
    }

    public init(from decoder: Decoder) throws {
        try ConfigError.rejectUnknownKeys(in: decoder, allowed: CodingKeys.allCases.map(\.rawValue), owner: "a hardware profile")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        guard !name.isEmpty else { throw ConfigError(keyPath: decoder.keyPath("name"), reason: "must not be empty") }
        let kindName = try c.decode(String.self, forKey: .kind)
        guard let kind = Kind(rawValue: kindName) else {
            throw ConfigError.unknownName(kindName, kind: "device kind", among: Kind.allCases.map(\.rawValue), keyPath: decoder.keyPath("kind"))
        }
        self.kind = kind
        sources = try c.decodeIfPresent([String].self, forKey: .sources) ?? []
        let peaks = try c.decode([String: Double].self, forKey: .peakTFLOPS)
        var table: [DType: Double] = [:]
        for (key, value) in peaks {
            let path = decoder.keyPath("peak_tflops") + "." + key
            guard let dtype = DType(rawValue: key) else {
                throw ConfigError.unknownName(key, kind: "format", among: DType.allCases.map(\.rawValue), keyPath: path)
            }
            try Self.requirePositive(value, path)
            table[dtype] = value
        }
        guard !table.isEmpty else { throw ConfigError(keyPath: decoder.keyPath("peak_tflops"), reason: "give the peak of at least one format") }
        peakTFLOPS = table
        memoryGiB = try c.decode(Double.self, forKey: .memoryGiB)
        try Self.requirePositive(memoryGiB, decoder.keyPath("memory_gib"))
        memoryBandwidthGBs = try c.decode(Double.self, forKey: .memoryBandwidthGBs)
        try Self.requirePositive(memoryBandwidthGBs, decoder.keyPath("memory_bandwidth_gbs"))
        efficiency = try c.decodeIfPresent(Efficiency.self, forKey: .efficiency) ?? Efficiency()
        launchOverheadMicroseconds = try c.decodeIfPresent(Double.self, forKey: .launchOverheadMicroseconds) ?? 0
        try Self.requireNonNegative(launchOverheadMicroseconds, decoder.keyPath("launch_overhead_us"))
        power = try c.decode(Power.self, forKey: .power)
        interconnect = try c.decodeIfPresent(Interconnect.self, forKey: .interconnect)
            ?? Interconnect(devicesPerNode: 1, intraNode: nil, interNode: nil, hostLink: nil, hostMemoryGiB: 0)
        pricePerHourUSD = try c.decodeIfPresent(Double.self, forKey: .pricePerHourUSD)
        if let pricePerHourUSD { try Self.requirePositive(pricePerHourUSD, decoder.keyPath("price_per_hour_usd")) }
        priceSource = try c.decodeIfPresent(String.self, forKey: .priceSource)
        if priceSource != nil, pricePerHourUSD == nil {
            throw ConfigError(keyPath: decoder.keyPath("price_source"), reason: "names the source of a price, but price_per_hour_usd is not given")
        }
        flashAttention = try c.decodeIfPresent(Bool.self, forKey: .flashAttention) ?? false
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(kind, forKey: .kind)
        try c.encode(sources, forKey: .sources)
        try c.encode(Dictionary(uniqueKeysWithValues: peakTFLOPS.map { ($0.key.rawValue, $0.value) }), forKey: .peakTFLOPS)
        try c.encode(memoryGiB, forKey: .memoryGiB)
        try c.encode(memoryBandwidthGBs, forKey: .memoryBandwidthGBs)
        try c.encode(efficiency, forKey: .efficiency)
        try c.encode(launchOverheadMicroseconds, forKey: .launchOverheadMicroseconds)
        try c.encode(power, forKey: .power)
        try c.encode(interconnect, forKey: .interconnect)
        try c.encodeIfPresent(pricePerHourUSD, forKey: .pricePerHourUSD)
        try c.encodeIfPresent(priceSource, forKey: .priceSource)
        try c.encode(flashAttention, forKey: .flashAttention)
    }

    static func requirePositive(_ value: Double, _ path: String) throws {
        guard value.isFinite, value > 0 else { throw ConfigError(keyPath: path, reason: "must be a positive number, got \(value)") }
    }

    static func requireNonNegative(_ value: Double, _ path: String) throws {
        guard value.isFinite, value >= 0 else { throw ConfigError(keyPath: path, reason: "must be zero or more, got \(value)") }
    }
}

extension HardwareProfile.Efficiency {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case matmul
        case matmulHalfIntensity = "matmul_half_intensity"
        case vector, memory, network
    }

    public init(from decoder: Decoder) throws {
        try ConfigError.rejectUnknownKeys(in: decoder, allowed: CodingKeys.allCases.map(\.rawValue), owner: "efficiency")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Self()
        func fraction(_ key: CodingKeys, _ fallback: Double) throws -> Double {
            let v = try c.decodeIfPresent(Double.self, forKey: key) ?? fallback
            guard v.isFinite, v > 0, v <= 1 else {
                throw ConfigError(keyPath: decoder.keyPath(key.rawValue), reason: "must be a fraction in (0, 1], got \(v)")
            }
            return v
        }
        let half = try c.decodeIfPresent(Double.self, forKey: .matmulHalfIntensity) ?? d.matmulHalfIntensity
        try HardwareProfile.requireNonNegative(half, decoder.keyPath(CodingKeys.matmulHalfIntensity.rawValue))
        self.init(matmul: try fraction(.matmul, d.matmul), matmulHalfIntensity: half, vector: try fraction(.vector, d.vector),
                  memory: try fraction(.memory, d.memory), network: try fraction(.network, d.network))
    }

    /// The factors; `matmul_half_intensity` only when the matmul efficiency depends on the shape.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(matmul, forKey: .matmul)
        if matmulHalfIntensity > 0 { try c.encode(matmulHalfIntensity, forKey: .matmulHalfIntensity) }
        try c.encode(vector, forKey: .vector)
        try c.encode(memory, forKey: .memory)
        try c.encode(network, forKey: .network)
    }
}

extension HardwareProfile.Power {
    enum CodingKeys: String, CodingKey, CaseIterable { case idle, peak }

    public init(from decoder: Decoder) throws {
        try ConfigError.rejectUnknownKeys(in: decoder, allowed: CodingKeys.allCases.map(\.rawValue), owner: "power")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        idle = try c.decode(Double.self, forKey: .idle)
        peak = try c.decode(Double.self, forKey: .peak)
        try HardwareProfile.requireNonNegative(idle, decoder.keyPath("idle"))
        try HardwareProfile.requirePositive(peak, decoder.keyPath("peak"))
        guard peak >= idle else { throw ConfigError(keyPath: decoder.keyPath("peak"), reason: "\(peak) W is below the idle power \(idle) W") }
    }
}

extension HardwareProfile.Link {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case kind
        case bandwidthGBs = "bandwidth_gbs"
        case latencyMicroseconds = "latency_us"
    }

    public init(from decoder: Decoder) throws {
        try ConfigError.rejectUnknownKeys(in: decoder, allowed: CodingKeys.allCases.map(\.rawValue), owner: "a link")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decode(String.self, forKey: .kind)
        bandwidthGBs = try c.decode(Double.self, forKey: .bandwidthGBs)
        latencyMicroseconds = try c.decodeIfPresent(Double.self, forKey: .latencyMicroseconds) ?? 0
        try HardwareProfile.requirePositive(bandwidthGBs, decoder.keyPath("bandwidth_gbs"))
        try HardwareProfile.requireNonNegative(latencyMicroseconds, decoder.keyPath("latency_us"))
    }
}

extension HardwareProfile.Interconnect {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case devicesPerNode = "devices_per_node"
        case intraNode = "intra_node"
        case interNode = "inter_node"
        case hostLink = "host_link"
        case hostMemoryGiB = "host_memory_gib"
    }

    public init(from decoder: Decoder) throws {
        try ConfigError.rejectUnknownKeys(in: decoder, allowed: CodingKeys.allCases.map(\.rawValue), owner: "interconnect")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        devicesPerNode = try c.decodeIfPresent(Int.self, forKey: .devicesPerNode) ?? 1
        guard devicesPerNode >= 1 else {
            throw ConfigError(keyPath: decoder.keyPath("devices_per_node"), reason: "must be at least 1, got \(devicesPerNode)")
        }
        intraNode = try c.decodeIfPresent(HardwareProfile.Link.self, forKey: .intraNode)
        interNode = try c.decodeIfPresent(HardwareProfile.Link.self, forKey: .interNode)
        hostLink = try c.decodeIfPresent(HardwareProfile.Link.self, forKey: .hostLink)
        hostMemoryGiB = try c.decodeIfPresent(Double.self, forKey: .hostMemoryGiB) ?? 0
        try HardwareProfile.requireNonNegative(hostMemoryGiB, decoder.keyPath("host_memory_gib"))
    }
}
