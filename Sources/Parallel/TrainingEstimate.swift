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
        /// ZeRO-3's largest layer gathered whole, its 16-bit parameters and gradient.
        public var gatheredLayer = 0.0
        /// Optimizer states held in host memory per node (offload).
        public var host = 0.0
        public var modelStates: Double { parameters + gradients + optimizerStates + gatheredLayer }
        public var total: Double { modelStates + activations + buffers }
    }

    public struct Time: Codable, Sendable {
        /// Forward and backward (with recomputation) of every micro-batch on the slowest stage.
        public var compute = 0.0
        /// Exposed communication, the part that adds to the step: tensor-parallel all-reduces,
        /// pipeline sends (with their tensor-parallel gathers) and data-parallel gradient / ZeRO
        /// traffic.
        public var tensorCommunication = 0.0, pipelineCommunication = 0.0, dataCommunication = 0.0
        /// Exposed ring-attention key/value sends (context parallelism) and expert all-to-alls
        /// (expert parallelism).
        public var contextCommunication = 0.0, expertCommunication = 0.0
        /// Communication that runs while the passes compute (overlapped gradient reduction,
        /// prefetched ZeRO-3 parameter gathers) and so costs no step time.
        public var hiddenCommunication = 0.0
        /// Idle time of the pipeline's fill and drain: p − 1 slots of one model chunk's work on
        /// one micro-batch ((p − 1)/(v·m) of the compute with v chunks per device).
        public var bubble = 0.0
        /// The optimizer update (on the host when offloaded, with its transfers).
        public var optimizer = 0.0
        /// The exposed communication.
        public var communication: Double {
            tensorCommunication + pipelineCommunication + dataCommunication + contextCommunication + expertCommunication
        }
        public var step: Double { compute + communication + bubble + optimizer }

        private enum EncodingKeys: String, CodingKey {
            case compute, tensorCommunication, pipelineCommunication, dataCommunication, contextCommunication, expertCommunication
            case hiddenCommunication
            case exposedCommunication, bubble, optimizer, step
        }

        /// The stored times, and the exposed communication and the step they add up to.
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: EncodingKeys.self)
            try c.encode(compute, forKey: .compute)
            try c.encode(tensorCommunication, forKey: .tensorCommunication)
            try c.encode(pipelineCommunication, forKey: .pipelineCommunication)
            try c.encode(dataCommunication, forKey: .dataCommunication)
            try c.encode(contextCommunication, forKey: .contextCommunication)
            try c.encode(expertCommunication, forKey: .expertCommunication)
            try c.encode(communication, forKey: .exposedCommunication)
            try c.encode(hiddenCommunication, forKey: .hiddenCommunication)
            try c.encode(bubble, forKey: .bubble)
            try c.encode(optimizer, forKey: .optimizer)
            try c.encode(step, forKey: .step)
        }
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
    /// What runs but runs badly (a tensor-parallel group wider than a node).
    public var warnings: [String] = []

    /// Spelled out so that a snake-case encoder writes `model_flops_per_step`, not
    /// `model_flo_ps_per_step`.
    enum CodingKeys: String, CodingKey {
        case plan, devices, microBatches, parameters, parametersPerDevice
        case modelFLOPsPerStep = "modelFlopsPerStep"
        case executedFLOPsPerStep = "executedFlopsPerStep"
        case memory, time, samplesPerSecond, tokensPerSecond, mfu, tflopsPerDevice, energyJoulesPerStep, joulesPerToken
        case dollarsPerStep, dollarsPerMillionTokens, infeasible, warnings
    }
}

extension TrainingJob {
    /// Cost one training step: trace a micro-step through the engine in meta mode, place the layers
    /// on the slowest pipeline stage, split what tensor parallelism splits, add the collectives the
    /// plan runs, and price everything on the cluster's profile.
    /// - Throws: `PlanError` when the plan breaks a constraint (see `ParallelPlan.validate`) or is in
    /// a format the device has no units for (`ParallelPlan.checkPrecision(on:)`).
    public func estimate() throws -> TrainingEstimate {
        try model.checkCostable(microBatch: plan.microBatch)
        let m = try plan.validate(model, devices: cluster.devices, globalBatch: globalBatch)
        try plan.checkPrecision(on: cluster.profile)
        let trace = try TransformerTrace(model: model, microBatch: plan.microBatch, precision: plan.precision)
        return estimate(trace: trace, microBatches: m)
    }

    /// The estimate from an existing trace of this model at this micro-batch and precision.
    public func estimate(trace: TransformerTrace, microBatches m: Int) -> TrainingEstimate {
        var p = plan
        let profile = cluster.profile
        p.flashAttention = p.usesFlashAttention(stackDefault: profile.flashAttention)
        let flash = p.flashAttention ?? false, v = p.virtualStages
        let roofline = Roofline(profile: profile), comm = CollectiveCost(cluster: cluster)
        let t = p.tp, cp = p.cp
        let split = p.stageLayers(of: model.layers)
        let bytes = p.precision.storageBytes

        // Compute on the slowest stage for one micro-batch. A rank's share of a split product keeps
        // the (b, s, h) activation whole (OpEvent+TensorParallel.swift); context parallelism then
        // gives each rank s/cp of the tokens of every operation.
        let replicated = Double(p.microBatch * model.sequenceLength * model.hidden) * p.precision.dtype.bytes
        func onRank(_ events: [OpEvent]) -> [OpEvent] {
            events.map {
                (TransformerTrace.isSplit($0.name) || p.sequenceParallel ? $0.tensorParallelShard(t, replicatedBytes: replicated) : $0).shard(cp)
            }
        }
        let headEvents = trace.head.map {
            ($0.name.hasPrefix("final_ln") && !p.sequenceParallel ? $0 : $0.tensorParallelShard(t, replicatedBytes: replicated)).shard(cp)
        }
        let block = roofline.cost(onRank(trace.block) + onRank(trace.recomputed(p.checkpointing)))
        let embeddingEvents = trace.embedding.map { $0.shard(cp) }
        let embedding = roofline.cost(embeddingEvents), head = roofline.cost(headEvents)
        // The pipeline devices that differ: the first (with the embedding), those between, the last
        // (with the final norm, head and loss); one device holds everything without stages. The
        // step waits for the slowest.
        let stages: [PipelineDevice] = p.pp == 1
            ? [PipelineDevice(index: 0, layers: model.layers, ends: embedding + head)]
            : [PipelineDevice(index: 0, layers: split.first, ends: embedding)]
                + (p.pp > 2 ? [PipelineDevice(index: 1, layers: split.middle, ends: OpsCost())] : [])
                + [PipelineDevice(index: p.pp - 1, layers: split.last, ends: head)]
        let slowest = stages.max { $0.seconds(block) < $1.seconds(block) }!
        let layersPerStage = slowest.layers
        let stage = block.scaled(by: Double(layersPerStage)) + slowest.ends

        // Tensor-parallel collectives per micro-batch: Megatron's f and g in every block (two
        // all-reduces of the (b, s, h) activations forward, two backward, two more when the forward
        // is recomputed) and the vocabulary-parallel embedding's (or LM head's) all-reduce; sequence
        // parallelism turns each into a reduce-scatter and an all-gather.
        let activation = Double(p.microBatch * model.sequenceLength / cp * model.hidden) * bytes
        var tpEvents = StepCollectives.tensorParallel(blocks: layersPerStage,
                                                      recomputedBlocks: p.checkpointing == .full ? layersPerStage : 0,
                                                      activationBytes: activation, group: p.tensorGroup, microBatches: 1)
        if t > 1 {
            tpEvents.append(CollectiveEvent(name: "tensor.embedding", kind: .allReduce, phase: .forward, group: p.tensorGroup, bytes: activation))
        }
        if p.sequenceParallel {
            tpEvents = tpEvents.flatMap { e in [CollectiveKind.reduceScatter, .allGather].map { k in var e = e; e.kind = k; return e } }
        }
        var tpPerMicroBatch = comm.seconds(tpEvents), tpHidden = 0.0
        // Overlapped (Megatron-Core's --tp-comm-overlap): in each pass every all-gather runs with the
        // product that consumes it and every reduce-scatter with the one that produces it — forward
        // QKV and FC1 after a gather, the attention and MLP output projections before a scatter;
        // backward the mirror image on the input-gradient products.
        if p.overlapTensorCommunication, p.sequenceParallel, t > 1 {
            let gather = comm.seconds(CollectiveEvent(name: "tensor.gather", kind: .allGather, phase: .forward, group: p.tensorGroup, bytes: activation))
            let scatter = comm.seconds(CollectiveEvent(name: "tensor.scatter", kind: .reduceScatter, phase: .forward, group: p.tensorGroup, bytes: activation))
            func product(_ name: String) -> Double { roofline.cost(onRank(trace.block.filter { $0.name == "block0." + name })).seconds }
            let forward = [(gather, product("attn.qkv")), (scatter, product("attn.proj")), (gather, product("mlp.fc")), (scatter, product("mlp.proj"))]
            let backward = [(gather, product("attn.proj.dX")), (scatter, product("attn.qkv.dX")), (gather, product("mlp.proj.dX")),
                            (scatter, product("mlp.fc.dX"))]
            let passes = [(forward, 1.0 + (p.checkpointing == .full ? 1 : 0)), (backward, 1.0)]
            for (pairs, times) in passes {
                for (collective, gemm) in pairs {
                    tpHidden += times * Double(layersPerStage) * (collective - Self.exposedDecomposed(seconds: collective, productSeconds: gemm, ranks: t))
                }
            }
            tpPerMicroBatch -= tpHidden
        }
        // Pipeline: each micro-batch's activations forward and their gradient backward, at every
        // chunk boundary a device owns: v of each with v model chunks per device (Narayanan et al.
        // 2021, §2.2.2). Scatter/gather (ibid., §4.1) sends 1/t per tensor rank and all-gathers it.
        let ppPerBoundary = p.pp > 1
            ? 2 * comm.seconds(StepCollectives.pipelineTransfer(activationBytes: activation, neighbours: p.pipelineNeighbours,
                                                                 tensorGroup: p.tensorGroup, sequenceParallel: p.sequenceParallel,
                                                                 scatterGather: p.scatterGather))
            : 0
        let ppPerMicroBatch = Double(v) * ppPerBoundary

        // Context parallelism: each layer passes its key/value chunks round the ring, each send
        // overlapped with the attention of the chunk before (Liu et al. 2023, §3): per layer and
        // direction (cp − 1)·max(0, send − attention of one chunk) is exposed.
        var cpExposed = 0.0, cpHidden = 0.0
        if let ring = StepCollectives.contextParallel(
            chunkBytes: 2 * Double(p.microBatch * model.sequenceLength / cp * model.keyValueWidth / t) * bytes, group: p.contextGroup) {
            let core = [".attn.scores", ".attn.softmax", ".attn.context"]
            func attention(_ phase: Phase) -> Double {
                roofline.cost(onRank(trace.block.filter { e in e.phase == phase && core.contains(where: { e.name.contains($0) }) })).seconds
            }
            let passes = 1.0 + (p.checkpointing == .full ? 1 : 0)
            for (event, compute, times) in [(ring.forward, attention(.forward), passes), (ring.backward, attention(.backward), 1)] {
                let total = comm.seconds(event) * event.count
                let exposed = event.count * max(0, comm.seconds(event) - compute / Double(cp))
                cpExposed += times * exposed * Double(layersPerStage)
                cpHidden += times * (total - exposed) * Double(layersPerStage)
            }
        }
        // Expert parallelism: the dispatch and combine all-to-alls of every MoE layer, exposed.
        let slots = Double(model.topK) * (model.capacityFactor ?? 1)
        let epPerMicroBatch = model.isMixtureOfExperts
            ? comm.seconds(StepCollectives.expertParallel(
                layers: layersPerStage, recomputedLayers: p.checkpointing == .full ? layersPerStage : 0,
                tokenBytes: activation / Double(p.sequenceParallel ? t : 1), slots: slots, group: p.expertGroup))
            : 0

        // Parameters on the fullest device: its stage's layers, split by tp (the experts also over
        // ep), plus the ends — the first stage's embedding, the last stage's final norm and output
        // layer (the token embedding again when tied).
        let blockShard = Double(trace.blockParameters - trace.blockSplitParameters) + Double(trace.blockSplitParameters) / Double(t)
        let expertShard = (Double(trace.expertParameters - trace.expertSplitParameters) + Double(trace.expertSplitParameters) / Double(t))
            / Double(p.ep)
        let tokenShard = Double(trace.tokenParameters) / Double(t)
        let lastEnd = Double(trace.finalNormParameters) + Double(trace.outputParameters) / Double(t)
            + (model.tiedEmbeddings ? tokenShard : 0)
        let firstEnd = tokenShard + Double(trace.positionParameters)
        func endParameters(_ d: PipelineDevice) -> Double {
            p.pp == 1 ? firstEnd + Double(trace.finalNormParameters) + Double(trace.outputParameters) / Double(t)
                : d.index == 0 ? firstEnd : d.index == p.pp - 1 ? lastEnd : 0
        }
        // The device with the most parameters holds the most model states.
        let fullest = stages.max { a, b in
            (blockShard + expertShard) * Double(a.layers) + endParameters(a) < (blockShard + expertShard) * Double(b.layers) + endParameters(b)
        }!
        let psiExperts = expertShard * Double(fullest.layers)
        let psiDense = blockShard * Double(fullest.layers) + endParameters(fullest)
        let psi = psiDense + psiExperts
        // The ranks that share (and under ZeRO shard) each kind of state: a replica's dense
        // parameters over data × context ranks, the experts over the expert-data-parallel ranks.
        let denseRanks = p.dp * cp, expertRanks = p.dp * cp / p.ep
        let statesPerRank = p.zero >= 1 ? psiDense / Double(denseRanks) + psiExperts / Double(expertRanks) : psi

        // Data-parallel traffic: gradients reduced, ZeRO's shards gathered, where DeepSpeed runs
        // them; the tied embedding's gradient summed between the first and the last stage.
        var dpEvents = StepCollectives.dataParallel(zero: p.zero, group: p.gradientGroup, parameterBytes: psiDense * bytes, microBatches: m)
        if psiExperts > 0 {
            dpEvents += StepCollectives.dataParallel(zero: p.zero, group: p.expertDataGroup, parameterBytes: psiExperts * bytes, microBatches: m)
        }
        if p.pp > 1, model.tiedEmbeddings {
            dpEvents += StepCollectives.tiedParameters(bytes: tokenShard * bytes,
                                                       group: RankGroup(name: "embedding", size: 2, stride: t * cp * p.dp * (p.pp - 1)))
        }
        // Overlap: the gradient reductions run bucket by bucket during the backward pass of the
        // micro-batch that produces them (the last one at an accumulation boundary; every one
        // under ZeRO-2/3); parameter gathers and the tied embedding's sum stay exposed.
        let backward = roofline.cost(onRank(trace.block.filter { $0.phase == .backward }) + onRank(trace.recomputed(p.checkpointing)))
            .scaled(by: Double(layersPerStage)).seconds
        let forward = roofline.cost(onRank(trace.block.filter { $0.phase == .forward })).scaled(by: Double(layersPerStage)).seconds
        var dpSeconds = 0.0, hiddenSeconds = 0.0
        for e in dpEvents {
            let total = comm.seconds(e)
            // ZeRO-3 prefetch: each layer's parameters gathered while the layer before computes,
            // in the forward pass and again in the backward pass (with its recomputation).
            if p.overlapParameterGather, e.name == "parameters.forward" || e.name == "parameters.backward" {
                let exposed = Self.exposedGather(seconds: total, layers: layersPerStage,
                                                 computeSeconds: e.name == "parameters.forward" ? forward : backward)
                dpSeconds += exposed * e.count
                hiddenSeconds += (total - exposed) * e.count
                continue
            }
            guard p.overlapGradientReduction, e.name == "gradients" else { dpSeconds += total * e.count; continue }
            let buckets = max(1, (e.bytes / Self.gradientBucketBytes).rounded(.up))
            let exposed = Self.exposedReduction(seconds: total, buckets: Int(buckets), backwardSeconds: backward)
            dpSeconds += exposed * e.count
            hiddenSeconds += (total - exposed) * e.count
        }

        // The optimizer over this device's share of the states.
        let stateShare = statesPerRank / Double(trace.optimizerParameters)
        var optimizerSeconds = roofline.cost(trace.optimizer.map { $0.scaledWork(stateShare) }).seconds
        if p.offload {
            // ZeRO-Offload: gradients down, updated 16-bit weights up, the update on the host
            // (modelled as streaming its states over the host link).
            let shard = psiDense / Double(denseRanks) + psiExperts / Double(expertRanks)
            let link = profile.interconnect.hostLink?.bandwidthGBs ?? profile.memoryBandwidthGBs
            optimizerSeconds = (2 * bytes * shard + 16 * shard) / (link * 1e9)
        }

        // ZeRO-Infinity: each rank's parameter partition comes over the host link before every
        // micro-batch's forward and backward gathers.
        if p.offloadParameters {
            let link = profile.interconnect.hostLink?.bandwidthGBs ?? profile.memoryBandwidthGBs
            dpSeconds += 2 * Double(m) * bytes * (psiDense / Double(denseRanks) + psiExperts / Double(expertRanks)) / (link * 1e9)
        }

        var time = TrainingEstimate.Time()
        time.compute = Double(m) * stage.seconds
        time.tensorCommunication = Double(m) * tpPerMicroBatch
        time.pipelineCommunication = Double(m) * ppPerMicroBatch
        // One chunk's work on one micro-batch is 1/v of the stage's, with one boundary's sends.
        time.contextCommunication = Double(m) * cpExposed
        time.expertCommunication = Double(m) * epPerMicroBatch
        // ZB-H1 fills the bubble with the deferred weight gradients: (p − 1)(T_F + T_B − T_W) for
        // T_F + T_B + T_W the stage's micro-batch (Qi et al. 2024, §3.1).
        let weightGradients = p.schedule == .zeroBubble
            ? roofline.cost(onRank(trace.block.filter(\.isWeightGradient))).seconds * Double(layersPerStage)
                + roofline.cost(((slowest.index == 0 ? embeddingEvents : []) + (slowest.index == p.pp - 1 ? headEvents : []))
                    .filter(\.isWeightGradient)).seconds
            : 0
        time.bubble = Double(p.pp - 1) * ((stage.seconds - 2 * weightGradients + tpPerMicroBatch + cpExposed + epPerMicroBatch) / Double(v)
                                          + (p.pp > 1 ? ppPerBoundary : 0))
        time.dataCommunication = dpSeconds
        time.hiddenCommunication = hiddenSeconds + Double(m) * (cpHidden + tpHidden)
        time.optimizer = optimizerSeconds

        // Memory on the fullest device.
        var memory = TrainingEstimate.Memory()
        var states = ModelStateMemory(parameterCount: psiDense, largestLayerParameters: trace.largestLayerParameters(tensorParallel: t),
                                      zero: p.zero, dataParallel: denseRanks, weightBytes: bytes, gradientBytes: bytes,
                                      optimizerBytes: p.precision.keepsMasterWeights ? 12 : 8, offload: p.stateOffload)
        if psiExperts > 0 {
            let experts = ModelStateMemory(parameterCount: psiExperts, zero: p.zero, dataParallel: expertRanks, weightBytes: bytes,
                                           gradientBytes: bytes, optimizerBytes: p.precision.keepsMasterWeights ? 12 : 8,
                                           offload: p.stateOffload)
            states.parameters += experts.parameters; states.gradients += experts.gradients
            states.optimizerStates += experts.optimizerStates; states.host += experts.host
        }
        memory.parameters = states.parameters
        memory.gradients = states.gradients
        memory.optimizerStates = states.optimizerStates
        memory.gatheredLayer = states.gatheredLayer
        let perLayer = transformerLayerActivationBytes(model, microBatch: p.microBatch, tensorParallel: t, contextParallel: cp,
                                                       sequenceParallel: p.sequenceParallel, checkpointing: p.checkpointing,
                                                       flashAttention: flash)
        // 1F1B (and ZB-H1) keep at most p − s micro-batches in flight on stage s, GPipe all m; the
        // device with the most layers × micro-batches holds the most activations.
        let layersInFlight = stages.map { d in d.layers * (p.schedule == .gpipe ? m : min(p.pp - d.index, m)) }.max()!
        // Interleaving keeps (1 + (p − 1)/(p·v)) times the activations of plain 1F1B on the first
        // stage (Korthikanti et al. 2022, §4.2.3).
        let interleaving = v > 1 ? 1 + Double(p.pp - 1) / Double(p.pp * v) : 1
        memory.activations = perLayer * Double(layersInFlight) * interleaving
        if p.checkpointing == .full {   // one layer's activations while it is recomputed
            memory.activations += transformerLayerActivationBytes(model, microBatch: p.microBatch, tensorParallel: t, contextParallel: cp,
                                                                  sequenceParallel: p.sequenceParallel, flashAttention: flash)
        }
        // The logits in FP32 for the loss, split over the vocabulary.
        memory.activations += 4 * Double(p.microBatch * model.sequenceLength * model.vocabulary) / Double(t * cp)
        // DeepSpeed's buffers: the reduce bucket (`reduce_bucket_size`, 5·10⁸ elements) from stage
        // 1, and under ZeRO-3 the parameters prefetched ahead of the layer that runs
        // (`stage3_prefetch_bucket_size`, 5·10⁷ elements, at most one layer's shard).
        memory.buffers = (p.zero >= 1 ? min(psi, 5e8) * bytes : 0) + (p.zero >= 3 ? min(blockShard, 5e7) * bytes : 0)
        memory.host = states.host * Double(cluster.devicesPerNode)

        // Throughput, utilisation, energy.
        // Model FLOPs count the experts a token is routed to, not the capacity padding.
        let perMicroBatchModel = (trace.block.reduce(0) { $0 + $1.flops } - trace.expertPaddingFLOPs) * Double(model.layers)
            + (trace.embedding + trace.head).reduce(0) { $0 + $1.flops }
        // Executed on top of them: the recomputed forwards and the capacity padding.
        let perMicroBatchRecompute = trace.recomputed(p.checkpointing).reduce(0) { $0 + $1.flops } * Double(model.layers)
            + trace.expertPaddingFLOPs * Double(model.layers)
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

        var warnings: [String] = []
        if t > 1, cluster.spansNodes(p.tensorGroup) {
            warnings.append("the tensor-parallel group of \(t) devices is wider than a node of \(cluster.devicesPerNode): "
                            + "its all-reduces run over the inter-node link; keep tp ≤ \(cluster.devicesPerNode)")
        }

        var estimate = TrainingEstimate(
            plan: p, devices: cluster.devices, microBatches: m, parameters: trace.totalParameters, parametersPerDevice: psi,
            modelFLOPsPerStep: modelFLOPs, executedFLOPsPerStep: executedFLOPs, memory: memory, time: time,
            samplesPerSecond: Double(globalBatch) / step, tokensPerSecond: tokens / step,
            mfu: modelFLOPs / (step * devices * profile.peakFLOPS(p.precision.dtype)),
            tflopsPerDevice: executedFLOPs / (step * devices) / 1e12,
            energyJoulesPerStep: energy, joulesPerToken: energy / tokens, infeasible: infeasible, warnings: warnings)
        if let price = profile.pricePerHourUSD, infeasible == nil {
            let cost = estimate.rentalCost(pricePerDeviceHour: price)
            estimate.dollarsPerStep = cost.perStep
            estimate.dollarsPerMillionTokens = cost.perMillionTokens
        }
        return estimate
    }
}

/// One pipeline device as the estimate costs it: its stage index, its transformer layers and the
/// ends it also runs (embedding, or final norm, head and loss).
struct PipelineDevice {
    let index: Int
    let layers: Int
    let ends: OpsCost

    /// One micro-batch's forward and backward on this device, for one layer costing `block`.
    func seconds(_ block: OpsCost) -> Double { Double(layers) * block.seconds + ends.seconds }
}

extension OpEvent {
    /// A backward operation that computes a parameter's gradient (a product's dW, a bias's or a
    /// norm's parameter gradient) rather than the gradient passed to the layer before: the W
    /// half of a backward pass that ZB-H1 defers (Qi et al. 2024, §2).
    var isWeightGradient: Bool {
        phase == .backward && (name.hasSuffix(".dW") || name.hasSuffix(".bias.grad") || name.hasSuffix(".dparams"))
    }
}

extension TrainingJob {
    /// The gradient bucket: PyTorch DDP's default `bucket_cap_mb` of 25 MiB (Li et al. 2020,
    /// "PyTorch Distributed", §3.2.3).
    public static let gradientBucketBytes = 25.0 * 1_048_576

    /// The part of a gradient reduction of `seconds` that the backward pass does not hide, when it
    /// is cut into `buckets` equal buckets reduced one after another as the backward pass of
    /// `backwardSeconds` fills them (Li et al. 2020, §3.2.3): bucket i is full at i·g (g = W/k) and
    /// each takes c = T/k, so the last finishes at max(k·g + c, g + k·c) and what runs after the
    /// backward is max(c, T − W·(k − 1)/k) — at least the last bucket, at most all of it.
    public static func exposedReduction(seconds total: Double, buckets k: Int, backwardSeconds w: Double) -> Double {
        let k = Double(max(k, 1))
        return min(total, max(total / k, total - w * (k - 1) / k))
    }
}

extension TrainingJob {
    /// The part of a tensor-parallel collective of `seconds` left exposed when it and the product of
    /// `productSeconds` beside it are cut into t = `ranks` pieces run as a ring (Wang et al. 2023,
    /// §3): t pieces of product of P/t each, t − 1 sends of C/(t − 1) each, every send running
    /// during a piece's product, so each waits max(0, C/(t − 1) − P/t) beyond it:
    /// (t − 1)·max(0, C/(t − 1) − P/t), nothing when the product is the longer, C − P·(t − 1)/t
    /// when the sends are.
    public static func exposedDecomposed(seconds c: Double, productSeconds w: Double, ranks: Int) -> Double {
        guard ranks > 1 else { return c }
        let t = Double(ranks)
        return (t - 1) * max(0, c / (t - 1) - w / t)
    }
}

extension TrainingJob {
    /// The part of a pass's parameter all-gathers of `seconds` in all that its compute of
    /// `computeSeconds` does not hide, when the parameters are gathered layer by layer (`layers`
    /// equal gathers of g = T/k) and each layer's gather runs while the layer before it computes
    /// (ZeRO-3 prefetch; Rajbhandari et al. 2019, §7.2 — the gathers "pipelined" with the
    /// forward and backward passes). The first gather has nothing to hide behind; layer i
    /// starts when both its gather and layer i − 1 are done, so each later layer waits
    /// max(0, g − w) with w = W/k of compute per layer. In all g + (k − 1)·max(0, g − w) =
    /// max(T/k, T − W·(k − 1)/k): the bucketed gradient reduction's formula mirrored in time (the
    /// first gather exposed instead of the last bucket).
    public static func exposedGather(seconds total: Double, layers k: Int, computeSeconds w: Double) -> Double {
        exposedReduction(seconds: total, buckets: k, backwardSeconds: w)
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
