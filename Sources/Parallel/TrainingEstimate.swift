import Engine
import Hardware

/// A GPT training job: the model, how many samples one optimizer step takes, the cluster and the plan.
public struct TrainingJob: Sendable {
    public var model: GPTSpec
    public var globalBatch: Int
    public var cluster: Cluster
    public var plan: ParallelPlan

    public init(model: GPTSpec, globalBatch: Int, cluster: Cluster, plan: ParallelPlan) {
        self.model = model; self.globalBatch = globalBatch; self.cluster = cluster; self.plan = plan
    }
}

/// What one training step of a job costs per device: memory broken down, time broken down,
/// throughput, model-FLOPs utilisation, energy and, when the profile has a price, dollars;
/// `infeasible` says why a plan cannot run.
public struct TrainingEstimate: Codable, Sendable {
    public struct Memory: Codable, Sendable {
        public var parameters = 0.0, gradients = 0.0, optimizerStates = 0.0, activations = 0.0, buffers = 0.0
        /// Optimizer states held in host memory per node (offload).
        public var host = 0.0
        public var total: Double { parameters + gradients + optimizerStates + activations + buffers }
    }

    public struct Time: Codable, Sendable {
        /// Forward and backward (with recomputation) of every micro-batch on the slowest stage.
        public var compute = 0.0
        /// Tensor-parallel all-reduces, pipeline sends and data-parallel gradient / ZeRO traffic.
        public var tensorCommunication = 0.0, pipelineCommunication = 0.0, dataCommunication = 0.0
        /// Idle time of the pipeline's fill and drain: (p − 1) micro-batch slots.
        public var bubble = 0.0
        /// The optimizer update (on the host when offloaded, with its transfers).
        public var optimizer = 0.0
        public var communication: Double { tensorCommunication + pipelineCommunication + dataCommunication }
        public var step: Double { compute + communication + bubble + optimizer }
    }

    public var plan: ParallelPlan
    public var devices: Int
    public var microBatches: Int
    /// Every parameter of the model, and the most any one device's model-parallel shard holds.
    public var parameters: Int
    public var parametersPerDevice: Double
    /// FLOPs of one step over the whole job: as the model defines them (forward and backward), and
    /// as executed (with recomputation).
    public var modelFLOPsPerStep: Double
    public var executedFLOPsPerStep: Double
    public var memory: Memory
    public var time: Time
    public var samplesPerSecond: Double
    public var tokensPerSecond: Double
    /// Model FLOPs per second over the devices' peak in the plan's format.
    public var mfu: Double
    /// Executed TFLOP/s per device (what Megatron-LM reports as achieved teraFLOP/s per GPU).
    public var tflopsPerDevice: Double
    public var energyJoulesPerStep: Double
    public var joulesPerToken: Double
    /// What renting every device for one step costs, US dollars: price per device-hour × devices ×
    /// step seconds / 3600. Nil when the profile has no price or the plan does not fit.
    public var dollarsPerStep: Double?
    /// Dollars per million tokens trained: price per device-hour × devices / 3600 / tokens per
    /// second × 10⁶. Nil when the profile has no price or the plan does not fit.
    public var dollarsPerMillionTokens: Double?
    /// Why the plan cannot run on the cluster (out of device or host memory); nil when it fits.
    public var infeasible: String?
}

extension TrainingJob {
    /// Cost one training step: trace a micro-step through the engine in meta mode, place the layers
    /// on the slowest pipeline stage, split what tensor parallelism splits, add the collectives the
    /// plan runs, and price everything on the cluster's profile.
    /// - Throws: `PlanError` when the plan breaks a constraint (see `ParallelPlan.validate`).
    public func estimate() throws -> TrainingEstimate {
        try model.checkCostable(microBatch: plan.microBatch)
        let m = try plan.validate(model, devices: cluster.devices, globalBatch: globalBatch)
        let trace = try TransformerTrace(model: model, microBatch: plan.microBatch, precision: plan.precision)
        return estimate(trace: trace, microBatches: m)
    }

    /// The estimate from an existing trace of this model at this micro-batch and precision.
    public func estimate(trace: TransformerTrace, microBatches m: Int) -> TrainingEstimate {
        let p = plan, profile = cluster.profile
        let roofline = Roofline(profile: profile), comm = CollectiveCost(cluster: cluster)
        let t = p.tp, layersPerStage = (model.layers + p.pp - 1) / p.pp
        let bytes = p.precision.storageBytes

        // Compute on the slowest stage for one micro-batch.
        func onRank(_ events: [OpEvent]) -> [OpEvent] {
            events.map { TransformerTrace.isSplit($0.name) || p.sequenceParallel ? $0.shard(t) : $0 }
        }
        let headEvents = trace.head.map { $0.name.hasPrefix("final_ln") && !p.sequenceParallel ? $0 : $0.shard(t) }
        let block = roofline.cost(onRank(trace.block) + onRank(trace.recomputed(p.checkpointing)))
        let embedding = roofline.cost(trace.embedding), head = roofline.cost(headEvents)
        let ends = p.pp == 1 ? embedding + head : (embedding.seconds > head.seconds ? embedding : head)
        let stage = block.scaled(by: Double(layersPerStage)) + ends

        // Tensor-parallel collectives per micro-batch: Megatron's f and g in every block (two
        // all-reduces of the (b, s, h) activations forward, two backward, two more when the forward
        // is recomputed) and the vocabulary-parallel embedding's (or LM head's) all-reduce; sequence
        // parallelism turns each into a reduce-scatter and an all-gather.
        let activation = Double(p.microBatch * model.sequenceLength * model.hidden) * bytes
        var tpEvents = StepCollectives.tensorParallel(blocks: layersPerStage,
                                                      recomputedBlocks: p.checkpointing == .full ? layersPerStage : 0,
                                                      activationBytes: activation, group: p.tensorGroup, microBatches: 1)
        if t > 1 {
            tpEvents.append(CollectiveEvent(name: "tensor.embedding", kind: .allReduce, phase: .forward, group: p.tensorGroup, bytes: activation))
        }
        if p.sequenceParallel {
            tpEvents = tpEvents.flatMap { e in [CollectiveKind.reduceScatter, .allGather].map { k in var e = e; e.kind = k; return e } }
        }
        let tpPerMicroBatch = comm.seconds(tpEvents)
        // Pipeline: each micro-batch's activations forward and their gradient backward.
        let p2pPayload = activation / Double(p.sequenceParallel ? t : 1)
        let ppPerMicroBatch = p.pp > 1
            ? 2 * comm.seconds(CollectiveEvent(name: "pp", kind: .sendRecv, phase: .forward, group: p.pipelineNeighbours, bytes: p2pPayload))
            : 0

        // Parameters on the fullest device: its stage's layers, split by tp, plus the ends.
        let blockShard = Double(trace.blockParameters - trace.blockSplitParameters) + Double(trace.blockSplitParameters) / Double(t)
        let tokenShard = Double(trace.tokenParameters) / Double(t)
        let endParameters = p.pp == 1
            ? tokenShard + Double(trace.positionParameters + trace.finalNormParameters)
            : max(tokenShard + Double(trace.positionParameters), tokenShard + Double(trace.finalNormParameters))
        let psi = blockShard * Double(layersPerStage) + endParameters

        // Data-parallel traffic: gradients reduced, ZeRO's shards gathered, where DeepSpeed runs
        // them; the tied embedding's gradient summed between the first and the last stage.
        var dpEvents = StepCollectives.dataParallel(zero: p.zero, group: p.dataGroup, parameterBytes: psi * bytes, microBatches: m)
        if p.pp > 1 {
            dpEvents += StepCollectives.tiedParameters(bytes: tokenShard * bytes,
                                                       group: RankGroup(name: "embedding", size: 2, stride: t * p.dp * (p.pp - 1)))
        }
        let dpSeconds = comm.seconds(dpEvents)

        // The optimizer over this device's share of the states.
        let stateShare = psi / Double(trace.optimizerParameters) / Double(p.zero >= 1 ? p.dp : 1)
        var optimizerSeconds = roofline.cost(trace.optimizer.map { $0.scaledWork(stateShare) }).seconds
        if p.offload {
            // ZeRO-Offload: gradients down, updated 16-bit weights up, the update on the host
            // (modelled as streaming its states over the host link).
            let shard = psi / Double(p.dp)
            let link = profile.interconnect.hostLink?.bandwidthGBs ?? profile.memoryBandwidthGBs
            optimizerSeconds = (2 * bytes * shard + 16 * shard) / (link * 1e9)
        }

        var time = TrainingEstimate.Time()
        time.compute = Double(m) * stage.seconds
        time.tensorCommunication = Double(m) * tpPerMicroBatch
        time.pipelineCommunication = Double(m) * ppPerMicroBatch
        time.bubble = Double(p.pp - 1) * (stage.seconds + tpPerMicroBatch + ppPerMicroBatch)
        time.dataCommunication = dpSeconds
        time.optimizer = optimizerSeconds

        // Memory on the fullest device.
        var memory = TrainingEstimate.Memory()
        let states = ModelStateMemory(parameterCount: psi, zero: p.zero, dataParallel: p.dp, weightBytes: bytes,
                                      gradientBytes: bytes, optimizerBytes: p.precision.keepsMasterWeights ? 12 : 8,
                                      offloaded: p.offload)
        memory.parameters = states.parameters
        memory.gradients = states.gradients
        memory.optimizerStates = states.optimizerStates
        let perLayer = transformerLayerActivationBytes(sequence: model.sequenceLength, microBatch: p.microBatch, hidden: model.hidden,
                                                       heads: model.heads, tensorParallel: t, sequenceParallel: p.sequenceParallel,
                                                       checkpointing: p.checkpointing)
        let inFlight = p.schedule == .gpipe ? m : min(p.pp, m)
        memory.activations = perLayer * Double(layersPerStage * inFlight)
        if p.checkpointing == .full {   // one layer's activations while it is recomputed
            memory.activations += transformerLayerActivationBytes(sequence: model.sequenceLength, microBatch: p.microBatch,
                                                                  hidden: model.hidden, heads: model.heads, tensorParallel: t,
                                                                  sequenceParallel: p.sequenceParallel)
        }
        // The logits in FP32 for the loss, split over the vocabulary.
        memory.activations += 4 * Double(p.microBatch * model.sequenceLength * model.vocabulary) / Double(t)
        let layerBytes = blockShard * bytes
        memory.buffers = (p.zero >= 1 ? min(psi, 5e8) * bytes : 0) + (p.zero >= 3 ? 2 * layerBytes : 0)
        if p.offload {
            let perNode = Double(cluster.devicesPerNode)
            memory.host = 16 * psi / Double(p.dp) * perNode
        }

        // Throughput, utilisation, energy.
        let perMicroBatchModel = (trace.block.reduce(0) { $0 + $1.flops }) * Double(model.layers)
            + (trace.embedding + trace.head).reduce(0) { $0 + $1.flops }
        let perMicroBatchRecompute = trace.recomputed(p.checkpointing).reduce(0) { $0 + $1.flops } * Double(model.layers)
        let microBatchesInStep = Double(globalBatch / p.microBatch)
        let modelFLOPs = perMicroBatchModel * microBatchesInStep
        let executedFLOPs = (perMicroBatchModel + perMicroBatchRecompute) * microBatchesInStep
        let step = time.step
        let devices = Double(cluster.devices)
        let busy = time.compute + (p.offload ? 0 : time.optimizer)
        let energy = devices * (profile.power.idle * step + (profile.power.peak - profile.power.idle) * min(busy, step))
        let tokens = Double(globalBatch * model.sequenceLength)

        var infeasible: String?
        if memory.total > profile.memoryBytes {
            infeasible = "needs \(gib(memory.total)) GiB per device, \(profile.name) has \(gib(profile.memoryBytes)) GiB"
        } else if p.offload, memory.host > profile.interconnect.hostMemoryGiB * 1_073_741_824 {
            infeasible = "offloaded optimizer states need \(gib(memory.host)) GiB of host memory per node, a node has \(gib(profile.interconnect.hostMemoryGiB * 1_073_741_824)) GiB"
        }

        var estimate = TrainingEstimate(
            plan: p, devices: cluster.devices, microBatches: m, parameters: trace.totalParameters, parametersPerDevice: psi,
            modelFLOPsPerStep: modelFLOPs, executedFLOPsPerStep: executedFLOPs, memory: memory, time: time,
            samplesPerSecond: Double(globalBatch) / step, tokensPerSecond: tokens / step,
            mfu: modelFLOPs / (step * devices * profile.peakFLOPS(p.precision.dtype)),
            tflopsPerDevice: executedFLOPs / (step * devices) / 1e12,
            energyJoulesPerStep: energy, joulesPerToken: energy / tokens, infeasible: infeasible)
        if let price = profile.pricePerHourUSD, infeasible == nil {
            let cost = estimate.rentalCost(pricePerDeviceHour: price)
            estimate.dollarsPerStep = cost.perStep
            estimate.dollarsPerMillionTokens = cost.perMillionTokens
        }
        return estimate
    }
}

extension TrainingEstimate {
    /// What the step would cost at `pricePerDeviceHour` US dollars on each of the devices, whether
    /// or not the plan fits (a study ranks plans that do not fit too): per step, and per million
    /// tokens.
    public func rentalCost(pricePerDeviceHour price: Double) -> (perStep: Double, perMillionTokens: Double) {
        let dollarsPerSecond = price * Double(devices) / 3600
        return (dollarsPerSecond * time.step, dollarsPerSecond / tokensPerSecond * 1e6)
    }
}

/// Bytes as GiB with one decimal, for messages.
func gib(_ bytes: Double) -> String {
    let v = bytes / 1_073_741_824
    return v >= 10 ? String(Int(v.rounded())) : String(Double(Int(v * 10)) / 10)
}

extension OpEvent {
    /// The same operation over a fraction `k` of its elements.
    func scaledWork(_ k: Double) -> OpEvent {
        var e = self
        e.flops *= k; e.bytesRead *= k; e.bytesWritten *= k
        return e
    }
}
