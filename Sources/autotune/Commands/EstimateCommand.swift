import Engine
import Foundation
import Hardware
import Parallel

extension PlanError: ExitCoded { var exitCode: Int32 { 2 } }

extension ParallelPlan.Checkpointing: ArgumentValue {}
extension FloatFormat: ArgumentValue {}
extension ParallelPlan.PipelineSchedule: ArgumentValue {}
extension MLPKind: ArgumentValue {}
extension TransformerNorm: ArgumentValue {}
extension PositionEncoding: ArgumentValue {}

/// `autotune estimate`: what one training step of a GPT costs under a parallel plan on a cluster.
struct EstimateCommand: Command {
    static let configuration = CommandConfiguration(
        name: "estimate",
        abstract: "Cost one training step of a GPT on a cluster: parameters, FLOPs, memory and step time per device, throughput, MFU, energy and dollars.",
        usage: "(MODEL.json | --model NAME|FILE | --layers L --hidden H --heads A --seq S --vocab V) [shape options] --hardware NAME [--nodes N] [--gpus-per-node G] [plan options] [--json]",
        arguments: [
            Argument("model", valueName: "MODEL.json", help: "A gpt architecture (or a candidate file with one under \"architecture\"); or give its shape with --layers, --hidden, --heads, --seq and --vocab.",
                     isOptional: true),
        ],
        options: [
            .value("model", valueName: "NAME|FILE", help: "A built-in shape (\(ModelShapes.names.joined(separator: ", "))) or a model file, as MODEL.json; the shape options below override its values."),
            .value("layers", valueName: "L", help: "Transformer layers."),
            .value("hidden", valueName: "H", help: "Hidden size."),
            .value("heads", valueName: "A", help: "Attention heads."),
            .value("seq", valueName: "S", help: "Sequence length."),
            .value("vocab", valueName: "V", help: "Vocabulary size."),
            .value("kv-heads", valueName: "G", help: "Key/value heads: grouped-query attention with G groups.", defaultDescription: "the heads"),
            .value("ffn-hidden", valueName: "F", help: "MLP width (each expert's).", defaultDescription: "4 × hidden"),
            .value("mlp", valueName: "gelu|swiglu", help: "MLP: two matrices and GELU, or SwiGLU's three.", defaultDescription: "gelu"),
            .value("norm", valueName: "layernorm|rmsnorm", help: "Normalisation.", defaultDescription: "layernorm"),
            .value("positions", valueName: "learned|rotary", help: "Learned position embeddings or rotary (no parameters).", defaultDescription: "learned"),
            .flag("untied-embeddings", help: "An output layer of its own instead of the token embedding's weight."),
            .flag("no-bias", help: "Linear layers without biases (Llama, Mixtral)."),
            .value("experts", valueName: "E", help: "Experts per MLP: a mixture of experts when E > 1.", defaultDescription: "1"),
            .value("top-k", valueName: "K", help: "Experts each token is routed to.", defaultDescription: "1"),
            .value("capacity-factor", valueName: "C", help: "Pad each expert to C times its share of the tokens.", defaultDescription: "dropless"),
            .value("hardware", valueName: "NAME", help: "A built-in profile (see 'autotune hardware list'), host, or a profile file."),
            .value("nodes", valueName: "N", help: "Nodes in the cluster.", default: "1"),
            .value("gpus-per-node", valueName: "G", help: "Devices per node.", defaultDescription: "the profile's"),
            .value("global-batch", valueName: "B", help: "Samples per optimizer step.", defaultDescription: "dp × micro-batch × grad-accum"),
            .value("dp", valueName: "N", help: "Data-parallel degree.", defaultDescription: "devices / (tp × pp)"),
            .value("tp", valueName: "N", help: "Tensor-parallel degree.", default: "1"),
            .value("pp", valueName: "N", help: "Pipeline stages.", default: "1"),
            .value("zero", valueName: "STAGE", help: "ZeRO stage 0–3.", default: "0"),
            .value("micro-batch", valueName: "N", help: "Samples per micro-batch.", default: "1"),
            .value("grad-accum", valueName: "N", help: "Micro-batches per step on each pipeline.", defaultDescription: "from the global batch, else 1"),
            .value("checkpointing", valueName: "none|selective|full", help: "Activation recomputation.", default: "none"),
            .flag("sequence-parallel", help: "Split layer norms and dropout along the sequence over the tensor-parallel ranks."),
            .value("context-parallel", valueName: "N", help: "Context-parallel degree: ring attention over N ranks, each holding 1/N of the sequence.", default: "1"),
            .value("expert-parallel", valueName: "N", help: "Expert-parallel degree: the experts spread over N data-parallel ranks (N divides dp).", default: "1"),
            .flag("offload", help: "Keep the optimizer states in host memory (ZeRO-Offload)."),
            .flag("offload-params", help: "ZeRO-3 with --offload: keep the parameter partition in host memory too (ZeRO-Infinity)."),
            .value("precision", valueName: "FORMAT", help: "fp32, tf32, fp16, bf16 or fp8, one the device has units for.",
                   defaultDescription: "bf16, or fp16 on a device without BF16 units"),
            .value("schedule", valueName: "1f1b|gpipe|zb-h1", help: "Pipeline schedule: zb-h1 defers each backward's weight gradients into the bubble (bubble (pp − 1)(F + B − W)).", default: "1f1b"),
            .value("virtual-stages", valueName: "V", help: "Model chunks per device: V > 1 is the interleaved 1F1B schedule (bubble (pp − 1)/(V·m), V× the pipeline sends).", default: "1"),
            .value("first-stage-layers", valueName: "N", help: "Layers on the first pipeline device (it also holds the embedding); the devices between share the rest evenly.", defaultDescription: "an even split"),
            .value("last-stage-layers", valueName: "N", help: "Layers on the last pipeline device (it also holds the head and loss).", defaultDescription: "an even split"),
            .flag("no-scatter-gather", help: "Send whole activations between stages from every tensor-parallel rank, not 1/tp each gathered over the node."),
            .flag("overlap-grad-reduce", help: "Reduce data-parallel gradients in buckets during the backward pass; only the exposed part adds to the step."),
            .flag("overlap-tp-comm", help: "With --sequence-parallel: overlap the tensor-parallel all-gathers and reduce-scatters with the products beside them, in tp pieces."),
            .flag("overlap-param-gather", help: "ZeRO-3: gather the next layer's parameters while the current one computes; only the exposed part adds to the step."),
            .flag("flash-attention", help: "FlashAttention: no sequence² attention activations kept (default: the profile's flash_attention)."),
            .flag("no-flash-attention", help: "Attention that keeps its sequence² scores for the backward pass."),
            .flag("allow-infeasible", help: "Print the estimate of a plan that does not fit in memory and exit 0 (without it such a plan exits 1)."),
            .json,
        ])

    var modelPath: String?
    var modelName: String?
    var shape: [String: Int?]
    var capacityFactor: Double?
    var mlp: MLPKind?, norm: TransformerNorm?, positions: PositionEncoding?
    var untiedEmbeddings: Bool, noBias: Bool
    var contextParallel: Int, expertParallel: Int
    var hardware: String?
    var nodes: Int
    var gpusPerNode: Int?
    var globalBatch: Int?
    var dp: Int?
    var tp: Int, pp: Int, zero: Int, microBatch: Int
    var gradAccum: Int?
    var checkpointing: ParallelPlan.Checkpointing
    var sequenceParallel: Bool, offload: Bool, offloadParameters: Bool
    var precision: FloatFormat?
    var schedule: ParallelPlan.PipelineSchedule
    var virtualStages: Int
    var firstStageLayers: Int?, lastStageLayers: Int?
    var scatterGather: Bool, overlapGradientReduction: Bool, overlapParameterGather: Bool, overlapTensorCommunication: Bool
    var flashAttention: Bool?
    var allowInfeasible: Bool
    var json: Bool

    init(_ values: ParsedValues) throws {
        modelPath = try values.argumentValues("model", as: String.self).first
        modelName = try values.optionalValue("model")
        shape = [:]
        for key in Self.shapeFlags { shape[key] = try values.optionalValue(key, as: Int.self) }
        capacityFactor = try values.optionalValue("capacity-factor")
        mlp = try values.optionalValue("mlp"); norm = try values.optionalValue("norm"); positions = try values.optionalValue("positions")
        untiedEmbeddings = values.flag("untied-embeddings"); noBias = values.flag("no-bias")
        contextParallel = try values.value("context-parallel"); expertParallel = try values.value("expert-parallel")
        hardware = try values.optionalValue("hardware")
        nodes = try values.value("nodes")
        gpusPerNode = try values.optionalValue("gpus-per-node")
        globalBatch = try values.optionalValue("global-batch")
        dp = try values.optionalValue("dp")
        tp = try values.value("tp"); pp = try values.value("pp"); zero = try values.value("zero")
        microBatch = try values.value("micro-batch")
        gradAccum = try values.optionalValue("grad-accum")
        checkpointing = try values.value("checkpointing")
        sequenceParallel = values.flag("sequence-parallel")
        offload = values.flag("offload")
        offloadParameters = values.flag("offload-params")
        precision = try values.optionalValue("precision")
        schedule = try values.value("schedule")
        virtualStages = try values.value("virtual-stages")
        firstStageLayers = try values.optionalValue("first-stage-layers"); lastStageLayers = try values.optionalValue("last-stage-layers")
        scatterGather = !values.flag("no-scatter-gather")
        overlapGradientReduction = values.flag("overlap-grad-reduce")
        overlapParameterGather = values.flag("overlap-param-gather")
        overlapTensorCommunication = values.flag("overlap-tp-comm")
        if values.flag("flash-attention"), values.flag("no-flash-attention") {
            throw CLIError.badInput("--flash-attention and --no-flash-attention: give one of them")
        }
        flashAttention = values.flag("flash-attention") ? true : values.flag("no-flash-attention") ? false : nil
        allowInfeasible = values.flag("allow-infeasible")
        json = values.flag("json")
    }

    func validate() throws {
        guard hardware != nil else { throw CLIError.missingValue(option: "--hardware") }
        if let path = modelPath, let name = modelName {
            throw CLIError.invalidValue(name: "--model", value: name, reason: "give MODEL.json (\(path)) or --model, not both")
        }
        if modelPath == nil, modelName == nil {
            for key in ["layers", "hidden", "heads", "seq", "vocab"] where shape[key]! == nil {
                throw CLIError.missingValue(option: "--" + key)
            }
        }
        for (name, v) in [("--nodes", nodes), ("--tp", tp), ("--pp", pp), ("--micro-batch", microBatch), ("--virtual-stages", virtualStages),
                          ("--context-parallel", contextParallel), ("--expert-parallel", expertParallel)] {
            try requireAtLeast(1, v, for: name)
        }
        for (name, v) in [("--gpus-per-node", gpusPerNode), ("--dp", dp), ("--global-batch", globalBatch), ("--grad-accum", gradAccum),
                          ("--first-stage-layers", firstStageLayers), ("--last-stage-layers", lastStageLayers)] {
            if let v { try requireAtLeast(1, v, for: name) }
        }
    }

    /// The integer shape options, by flag name.
    static let shapeFlags = ["layers", "hidden", "heads", "seq", "vocab", "kv-heads", "ffn-hidden", "experts", "top-k"]

    /// The flag that sets each architecture key.
    static let keyFlags = ["layers": "--layers", "hidden": "--hidden", "heads": "--heads", "sequence_length": "--seq",
                           "vocabulary": "--vocab", "kv_heads": "--kv-heads", "ffn_hidden": "--ffn-hidden", "experts": "--experts",
                           "top_k": "--top-k", "capacity_factor": "--capacity-factor", "mlp": "--mlp", "norm": "--norm",
                           "positions": "--positions", "micro_batch": "--micro-batch"]

    /// Where the model comes from, for messages: the file (`FILE: architecture.`) or the built-in name.
    var modelSource: String? {
        if let path = modelPath ?? modelName.flatMap({ ModelShapes.named($0) == nil ? $0 : nil }) { return "\(path): architecture." }
        return modelName.map { "model \($0): " }
    }

    /// The model: a built-in shape, a file, or the shape options alone; the options given override
    /// the shape's values.
    func gptSpec() throws -> GPTSpec {
        var g: GPTSpec
        if let name = modelName, let builtin = ModelShapes.named(name) {
            g = builtin
        } else if let path = modelPath ?? modelName {
            if modelPath == nil, !path.lowercased().hasSuffix(".json"), !FileManager.default.fileExists(atPath: path) {
                throw CLIError.invalidValue(name: "--model", value: path, reason: "neither a built-in shape nor a file",
                                            suggestion: closestMatch(to: path.lowercased(), among: ModelShapes.names))
            }
            let spec = try loadJSONConfig(ModelFile.self, path: path).architecture
            guard case .gpt(let file) = spec else {
                throw InputFileError(file: path, reason: "family: estimate costs gpt models, got '\(spec.family)'")
            }
            g = file
        } else {
            g = GPTSpec(layers: shape["layers"]!!, hidden: shape["hidden"]!!, heads: shape["heads"]!!,
                        sequenceLength: shape["seq"]!!, vocabulary: shape["vocab"]!!)
        }
        if let v = shape["layers"]! { g.layers = v }
        if let v = shape["hidden"]! { g.hidden = v }
        if let v = shape["heads"]! { g.heads = v }
        if let v = shape["seq"]! { g.sequenceLength = v }
        if let v = shape["vocab"]! { g.vocabulary = v }
        if let v = shape["kv-heads"]! { g.kvHeads = v }
        if let v = shape["ffn-hidden"]! { g.ffnHidden = v }
        if let v = shape["experts"]! { g.experts = v }
        if let v = shape["top-k"]! { g.topK = v }
        if let v = capacityFactor { g.capacityFactor = v }
        if let v = mlp { g.mlp = v }
        if let v = norm { g.norm = v }
        if let v = positions { g.positions = v }
        if untiedEmbeddings { g.tiedEmbeddings = false }
        if noBias { g.bias = false }
        do { try ArchitectureSpec.gpt(g).validate(inputShape: [g.sequenceLength], classes: g.vocabulary) }
        catch let e as ConfigError {
            let reason = describe(key: e.keyPath.replacingOccurrences(of: "architecture.", with: ""), e.reason)
            throw CLIError.badInput(reason.hasPrefix("--") ? "model: " + reason : reason)
        }
        return g
    }

    /// "--kv-heads: reason" when an option set the key, else "FILE: architecture.key: reason".
    func describe(key: String, _ reason: String) -> String {
        let flag = Self.keyFlags[key]
        let setByFlag: Bool
        switch key {
        case "capacity_factor": setByFlag = capacityFactor != nil
        case "mlp": setByFlag = mlp != nil
        case "norm": setByFlag = norm != nil
        case "positions": setByFlag = positions != nil
        case "micro_batch": setByFlag = true
        default:
            if let flag, let value = shape[String(flag.dropFirst(2))] { setByFlag = value != nil } else { setByFlag = false }
        }
        if let flag, setByFlag || modelSource == nil { return "\(flag): \(reason)" }
        return "\(modelSource ?? "model: ")\(key): \(reason)"
    }

    func run() throws -> Int32 {
        let model = try gptSpec()
        do { try model.checkCostable(microBatch: microBatch) } catch let e as PlanError {
            throw CLIError.badInput(describe(key: e.key, e.reason))
        }
        let profile = try ProfileLibrary.profile(named: hardware!)
        let cluster: Cluster
        do { cluster = try Cluster(profile: profile, nodes: nodes, devicesPerNode: gpusPerNode) }
        catch let e as ConfigError {
            let value = e.keyPath == "nodes" ? String(nodes) : gpusPerNode.map(String.init) ?? ""
            throw CLIError.invalidValue(name: "--" + e.keyPath.replacingOccurrences(of: "_", with: "-"), value: value, reason: e.reason)
        }
        let precision = self.precision ?? ParallelPlan.defaultPrecision(on: profile)
        let plan: ParallelPlan
        do {
            plan = try ParallelPlan(dp: dp ?? 0, tp: tp, pp: pp, zero: zero, microBatch: microBatch, gradientAccumulation: gradAccum,
                                    checkpointing: checkpointing, sequenceParallel: sequenceParallel, offload: offload,
                                    offloadParameters: offloadParameters,
                                    precision: precision, schedule: schedule, virtualStages: virtualStages,
                                    scatterGather: scatterGather, overlapGradientReduction: overlapGradientReduction,
                                    overlapParameterGather: overlapParameterGather,
                                    flashAttention: flashAttention, cp: contextParallel, ep: expertParallel,
                                    firstStageLayers: firstStageLayers, lastStageLayers: lastStageLayers,
                                    overlapTensorCommunication: overlapTensorCommunication).resolved(devices: cluster.devices)
        } catch let e as PlanError {
            throw CLIError.invalidValue(name: "--" + e.key, value: String(tp), reason: e.reason)
        }
        let batch = globalBatch ?? plan.dp * microBatch * (gradAccum ?? 1)
        let estimate: TrainingEstimate
        do { estimate = try TrainingJob(model: model, globalBatch: batch, cluster: cluster, plan: plan).estimate() }
        catch let e as PlanError where e.key == "precision" {
            throw CLIError.badInput("--precision \(precision.rawValue): \(e.reason)")
        } catch let e as PlanError {
            let options = ["offload_parameters": "offload-params", "cp": "context-parallel", "ep": "expert-parallel", "overlap_tp_comm": "overlap-tp-comm"]
            let option = options[e.key] ?? e.key.replacingOccurrences(of: "_", with: "-")
            throw CLIError.badInput("--\(option): \(e.reason)")
        }
        for warning in estimate.warnings { FileHandle.standardError.write(Data("autotune: warning: \(warning)\n".utf8)) }
        let job = TrainingJob(model: model, globalBatch: batch, cluster: cluster, plan: plan)
        let fits = estimate.infeasible == nil ? nil : job.fittingChange()
        if json {
            try Output.printJSON(EstimateReport(model: model, hardware: profile.name, nodes: cluster.nodes,
                                                devicesPerNode: cluster.devicesPerNode, globalBatch: batch,
                                                pricePerHourUSD: profile.pricePerHourUSD, priceSource: profile.priceSource,
                                                memoryNeededGiB: estimate.memory.total / 1_073_741_824, deviceMemoryGiB: profile.memoryGiB,
                                                fitsWith: fits, estimate: estimate))
        } else if estimate.infeasible == nil || allowInfeasible {
            print(Self.table(model, cluster, batch, estimate, fitsWith: fits))
        }
        if let why = estimate.infeasible, !allowInfeasible {
            throw CLIError.runtime("the plan does not fit: \(why); " + Self.remedy(fits) + "; --allow-infeasible prints the estimate anyway")
        }
        return 0
    }

    /// "it fits with --zero 2 (61 GiB per device)", or that no single change makes it fit.
    static func remedy(_ fits: PlanChange?) -> String {
        guard let fits else {
            return "no single change (a higher ZeRO stage, recomputation, twice the tp or pp, half the micro-batch, offload) makes it fit"
        }
        return "it fits with \(fits.option) (\(gibibytes(fits.memory)) GiB per device)"
    }

    /// Bytes as GiB: one decimal below 10, whole above.
    static func gibibytes(_ bytes: Double) -> String {
        let v = bytes / 1_073_741_824
        return v >= 10 ? String(Int(v.rounded())) : String(format: "%.1f", v)
    }

    static func table(_ g: GPTSpec, _ c: Cluster, _ batch: Int, _ e: TrainingEstimate, fitsWith fits: PlanChange? = nil) -> String {
        let p = e.plan
        func gb(_ b: Double) -> String { String(format: "%.2f GiB", b / 1_073_741_824) }
        func s(_ t: Double) -> String { t >= 1 ? String(format: "%.3f s", t) : String(format: "%.2f ms", t * 1000) }
        let m = e.memory, t = e.time
        var lines = [
            "model       GPT, \(humanNumber(Double(e.parameters))) parameters (\(g.layers) layers, hidden \(g.hidden), \(g.heads) heads, sequence \(g.sequenceLength), vocabulary \(g.vocabulary)"
                + shapeDescription(g) + ")",
            "cluster     \(c.nodes) × \(c.devicesPerNode) \(c.profile.name) (\(c.devices) device\(c.devices == 1 ? "" : "s"))",
            "plan        dp \(p.dp) × tp \(p.tp) × pp \(p.pp)" + (p.cp > 1 ? " × cp \(p.cp)" : "") + (p.ep > 1 ? ", ep \(p.ep)" : "") + ", ZeRO \(p.zero), micro-batch \(p.microBatch) × \(e.microBatches) per step, global batch \(batch), \(p.precision.rawValue), checkpointing \(p.checkpointing.rawValue)"
                + (p.sequenceParallel ? ", sequence parallel" : "") + (p.offload ? (p.offloadParameters ? ", optimizer and parameter offload" : ", optimizer offload") : "")
                + (p.pp > 1 ? ", \(p.schedule.rawValue)" + (p.virtualStages > 1 ? " interleaved, \(p.virtualStages) chunks per device" : "") : "")
                + (p.firstStageLayers != nil || p.lastStageLayers != nil
                   ? { let s = p.stageLayers(of: g.layers); return ", layers per stage \(s.first) first, " + (p.pp > 2 ? "\(s.middle) between, " : "") + "\(s.last) last" }() : "")
                + (p.flashAttention == true ? ", FlashAttention" : "") + (p.overlapGradientReduction ? ", gradient reduction overlapped" : "")
                + (p.overlapParameterGather && p.zero >= 3 ? ", parameter gathers prefetched" : "")
                + (p.overlapTensorCommunication && p.tp > 1 ? ", tensor-parallel communication overlapped" : ""),
            "FLOPs       \(String(format: "%.3e", e.modelFLOPsPerStep)) per iteration (model), \(String(format: "%.3e", e.executedFLOPsPerStep)) executed",
            "parameters  \(humanNumber(e.parametersPerDevice)) on the fullest device",
            "memory      \(gb(m.total)) per device of \(gb(c.profile.memoryBytes)): parameters \(gb(m.parameters)), gradients \(gb(m.gradients)), "
                + "optimizer states \(gb(m.optimizerStates)), " + (p.zero >= 3 ? "gathered layer \(gb(m.gatheredLayer)), " : "")
                + "activations \(gb(m.activations)), buffers \(gb(m.buffers))"
                + (p.offload ? "; host \(gb(m.host)) per node" : ""),
            "step time   \(s(t.step)): compute \(s(t.compute)), communication \(s(t.communication)) exposed (tensor \(s(t.tensorCommunication)), "
                + "pipeline \(s(t.pipelineCommunication)), data \(s(t.dataCommunication))"
                + (p.cp > 1 ? ", context \(s(t.contextCommunication))" : "") + (g.isMixtureOfExperts ? ", expert \(s(t.expertCommunication))" : "")
                + ") and \(s(t.hiddenCommunication)) hidden behind the backward pass, "
                + "bubble \(s(t.bubble)), optimizer \(s(t.optimizer))",
            "throughput  \(humanNumber(e.samplesPerSecond)) samples/s, \(humanNumber(e.tokensPerSecond)) tokens/s, "
                + String(format: "MFU %.1f%%, %.1f TFLOP/s per device", 100 * e.mfu, e.tflopsPerDevice),
            "energy      \(humanNumber(e.energyJoulesPerStep)) J per step, \(String(format: "%.3g", e.joulesPerToken)) J per token",
        ]
        if let price = c.profile.pricePerHourUSD, let perMillion = e.dollarsPerMillionTokens, let perStep = e.dollarsPerStep {
            lines.append("cost        \(dollars(perMillion)) per million tokens, \(dollars(perStep)) per step, at $\(figure(price)) per device-hour"
                         + (c.profile.priceSource.map { " (\($0))" } ?? ""))
        }
        if let why = e.infeasible { lines.append("INFEASIBLE  \(why); \(remedy(fits))") }
        return lines.joined(separator: "\n")
    }
}

/// The shape keys beyond GPT-2, for the model line: ", 8 kv heads, SwiGLU 14336, RMSNorm, …".
func shapeDescription(_ g: GPTSpec) -> String {
    var words: [String] = []
    if g.keyValueHeads != g.heads { words.append("\(g.keyValueHeads) kv heads") }
    if g.mlp == .swiglu { words.append("SwiGLU \(g.ffnWidth)") } else if g.ffnHidden != nil { words.append("MLP \(g.ffnWidth)") }
    if g.norm == .rmsNorm { words.append("RMSNorm") }
    if g.positions == .rotary { words.append("rotary positions") }
    if !g.tiedEmbeddings { words.append("untied output layer") }
    if !g.bias { words.append("no biases") }
    if g.isMixtureOfExperts {
        words.append("\(g.experts) experts, top-\(g.topK)" + (g.capacityFactor.map { ", capacity factor \(figure($0))" } ?? ", dropless"))
    }
    return words.isEmpty ? "" : "; " + words.joined(separator: ", ")
}

/// US dollars for people: cents from a dollar up, three significant figures below (`$13.53`,
/// `$0.0123`).
func dollars(_ v: Double) -> String {
    abs(v) >= 1 ? String(format: "$%.2f", v) : "$" + String(format: "%.3g", v)
}

/// A model file: a gpt architecture on its own, or a candidate holding one under `architecture`.
struct ModelFile: Decodable {
    let architecture: ArchitectureSpec

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        let key = AnyKey(stringValue: "architecture")
        if c.contains(key) {
            architecture = try c.decode(ArchitectureSpec.self, forKey: key)
        } else {
            architecture = try ArchitectureSpec(from: decoder)
        }
    }
}

/// `estimate --json`: the inputs and the estimate.
struct EstimateReport: Encodable {
    let model: GPTSpec
    let hardware: String
    let nodes: Int
    let devicesPerNode: Int
    let globalBatch: Int
    /// The profile's price per device-hour, which `estimate.dollars_per_*` are computed at;
    /// absent without one.
    let pricePerHourUSD: Double?
    let priceSource: String?
    /// What the plan needs per device and what the device has, GiB.
    let memoryNeededGiB: Double
    let deviceMemoryGiB: Double
    /// For a plan that does not fit: the first single change that makes it fit (see
    /// `TrainingJob.neighbours()` for the order); absent when the plan fits or none does.
    let fitsWith: PlanChange?
    let estimate: TrainingEstimate

    /// Spelled out so that a snake-case encoder writes `memory_needed_gib`, not `memory_needed_gi_b`.
    enum CodingKeys: String, CodingKey {
        case model, hardware, nodes, devicesPerNode, globalBatch, pricePerHourUSD, priceSource, fitsWith, estimate
        case memoryNeededGiB = "memoryNeededGib"
        case deviceMemoryGiB = "deviceMemoryGib"
    }
}
