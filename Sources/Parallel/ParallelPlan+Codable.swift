import Engine

/// A plan as a space's `parallelism` section, a recipe and `estimate --json` write it:
///
///     {"dp": 8, "tp": 2, "pp": 1, "zero": 1, "micro_batch": 4, "grad_accum": 16,
///      "checkpointing": "selective", "sequence_parallel": true, "offload": false, "offload_parameters": false, "schedule": "1f1b",
///      "virtual_stages": 1, "scatter_gather": true, "overlap_grad_reduce": false,
///      "overlap_param_gather": false, "flash_attention": true, "cp": 1, "ep": 1,
///      "first_stage_layers": 7, "last_stage_layers": 7, "overlap_tp_comm": false}
///
/// Every key is optional (the defaults of `init`; an absent `flash_attention` follows the hardware
/// profile; absent stage layers split the layers evenly); an absent `dp` is 0 until `resolved(devices:)`
/// gives it what the devices leave. Unknown keys and wrong types are `ConfigError`s naming the key.
/// `precision` is a section of its own in a candidate, and a key here only in `estimate --json`.
extension ParallelPlan {
    public enum CodingKeys: String, CodingKey, CaseIterable {
        case dp, tp, pp, zero
        case microBatch = "micro_batch"
        case gradientAccumulation = "grad_accum"
        case checkpointing
        case sequenceParallel = "sequence_parallel"
        case offload
        case offloadParameters = "offload_parameters"
        case schedule, precision
        case virtualStages = "virtual_stages"
        case scatterGather = "scatter_gather"
        case overlapGradientReduction = "overlap_grad_reduce"
        case overlapParameterGather = "overlap_param_gather"
        case flashAttention = "flash_attention"
        case cp, ep
        case firstStageLayers = "first_stage_layers"
        case lastStageLayers = "last_stage_layers"
        case overlapTensorCommunication = "overlap_tp_comm"
    }

    /// The keys of a candidate's `parallelism` section.
    public static var sectionKeys: [String] { CodingKeys.allCases.filter { $0 != .precision }.map(\.rawValue) }

    public init(from decoder: Decoder) throws {
        try ConfigError.rejectUnknownKeys(in: decoder, allowed: CodingKeys.allCases.map(\.rawValue), owner: "parallelism")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func int(_ key: CodingKeys) throws -> Int? { try c.configValue(Int.self, key, expected: "an integer") }
        func bool(_ key: CodingKeys) throws -> Bool? { try c.configValue(Bool.self, key, expected: "true or false") }
        func name<T: RawRepresentable & CaseIterable & Decodable>(_ key: CodingKeys, _: T.Type) throws -> T? where T.RawValue == String {
            guard let text = try c.configValue(String.self, key, expected: "a name") else { return nil }
            guard let value = T(rawValue: text) else {
                throw ConfigError.unknownName(text, kind: key.rawValue.replacingOccurrences(of: "_", with: " "),
                                              among: T.allCases.map(\.rawValue), keyPath: ConfigError.keyPath(c.codingPath + [key]))
            }
            return value
        }
        self.init(dp: try int(.dp) ?? 0, tp: try int(.tp) ?? 1, pp: try int(.pp) ?? 1, zero: try int(.zero) ?? 0,
                  microBatch: try int(.microBatch) ?? 1, gradientAccumulation: try int(.gradientAccumulation),
                  checkpointing: try name(.checkpointing, Checkpointing.self) ?? .none,
                  sequenceParallel: try bool(.sequenceParallel) ?? false, offload: try bool(.offload) ?? false,
                  offloadParameters: try bool(.offloadParameters) ?? false,
                  precision: try name(.precision, FloatFormat.self) ?? .bf16,
                  schedule: try name(.schedule, PipelineSchedule.self) ?? .oneForwardOneBackward,
                  virtualStages: try int(.virtualStages) ?? 1, scatterGather: try bool(.scatterGather) ?? true,
                  overlapGradientReduction: try bool(.overlapGradientReduction) ?? false,
                  overlapParameterGather: try bool(.overlapParameterGather) ?? false, flashAttention: try bool(.flashAttention),
                  cp: try int(.cp) ?? 1, ep: try int(.ep) ?? 1,
                  firstStageLayers: try int(.firstStageLayers), lastStageLayers: try int(.lastStageLayers),
                  overlapTensorCommunication: try bool(.overlapTensorCommunication) ?? false)
        for key in [CodingKeys.tp, .pp, .microBatch, .virtualStages, .cp, .ep, .firstStageLayers, .lastStageLayers] where (try int(key) ?? 1) < 1 {
            throw ConfigError(keyPath: ConfigError.keyPath(c.codingPath + [key]), reason: "must be at least 1, got \(try int(key)!)")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(dp, forKey: .dp); try c.encode(tp, forKey: .tp); try c.encode(pp, forKey: .pp); try c.encode(zero, forKey: .zero)
        try c.encode(microBatch, forKey: .microBatch); try c.encodeIfPresent(gradientAccumulation, forKey: .gradientAccumulation)
        try c.encode(checkpointing, forKey: .checkpointing); try c.encode(sequenceParallel, forKey: .sequenceParallel)
        try c.encode(offload, forKey: .offload); try c.encode(offloadParameters, forKey: .offloadParameters); try c.encode(schedule, forKey: .schedule); try c.encode(precision, forKey: .precision)
        try c.encode(virtualStages, forKey: .virtualStages); try c.encode(scatterGather, forKey: .scatterGather)
        try c.encode(overlapGradientReduction, forKey: .overlapGradientReduction)
        try c.encode(overlapParameterGather, forKey: .overlapParameterGather)
        try c.encodeIfPresent(flashAttention, forKey: .flashAttention)
        if cp != 1 { try c.encode(cp, forKey: .cp) }
        if ep != 1 { try c.encode(ep, forKey: .ep) }
        try c.encodeIfPresent(firstStageLayers, forKey: .firstStageLayers)
        try c.encodeIfPresent(lastStageLayers, forKey: .lastStageLayers)
        if overlapTensorCommunication { try c.encode(true, forKey: .overlapTensorCommunication) }
    }

    /// The plan on `devices` devices: an unset `dp` becomes devices / (tp · pp · cp).
    /// - Throws: `PlanError` when tp · pp · cp does not divide the devices.
    public func resolved(devices: Int) throws -> ParallelPlan {
        guard dp == 0 else { return self }
        guard devices % (tp * pp * cp) == 0 else {
            let product = cp > 1 ? "tp × pp × cp = \(tp * pp * cp)" : "tp × pp = \(tp * pp)"
            throw PlanError("tp", "\(product) does not divide the cluster's \(devices) devices")
        }
        var plan = self
        plan.dp = devices / (tp * pp * cp)
        return plan
    }

    /// The plan as `autotune estimate` flags, every setting written out.
    public var estimateFlags: [String] {
        var words = ["--dp", String(dp), "--tp", String(tp), "--pp", String(pp), "--zero", String(zero), "--micro-batch", String(microBatch)]
        if let m = gradientAccumulation { words += ["--grad-accum", String(m)] }
        words += ["--checkpointing", checkpointing.rawValue, "--schedule", schedule.rawValue]
        if sequenceParallel { words.append("--sequence-parallel") }
        if offload { words.append("--offload") }
        if offloadParameters { words.append("--offload-params") }
        if virtualStages != 1 { words += ["--virtual-stages", String(virtualStages)] }
        if !scatterGather { words.append("--no-scatter-gather") }
        if overlapGradientReduction { words.append("--overlap-grad-reduce") }
        if overlapParameterGather { words.append("--overlap-param-gather") }
        if overlapTensorCommunication { words.append("--overlap-tp-comm") }
        if let flash = flashAttention { words.append(flash ? "--flash-attention" : "--no-flash-attention") }
        if cp != 1 { words += ["--context-parallel", String(cp)] }
        if ep != 1 { words += ["--expert-parallel", String(ep)] }
        if let n = firstStageLayers { words += ["--first-stage-layers", String(n)] }
        if let n = lastStageLayers { words += ["--last-stage-layers", String(n)] }
        return words + ["--precision", precision.rawValue]
    }
}
