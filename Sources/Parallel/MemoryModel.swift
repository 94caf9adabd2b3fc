import Engine

/// Where ZeRO-Offload (Ren et al. 2021) keeps model states: on the device, the optimizer's
/// states in host memory, or (ZeRO-3 only, ZeRO-Infinity's `offload_param`) the parameters too.
public enum StateOffload: String, Codable, Sendable, CaseIterable {
    case none
    /// The FP32 master weights, optimizer states and FP32 gradient partition live on the host;
    /// the update runs there.
    case optimizer
    /// As `optimizer`, and ZeRO-3's 16-bit parameter partition too.
    case optimizerAndParameters = "optimizer_and_parameters"
}

/// Bytes of model states per rank under ZeRO (Rajbhandari et al. 2019, §5 and Table 1), counted
/// as DeepSpeed's own estimators count them (`estimate_zero2_model_states_mem_needs` in
/// `deepspeed.runtime.zero.stage_1_and_2` and `estimate_zero3_model_states_mem_needs` in
/// `deepspeed.runtime.zero.stage3`, DeepSpeed 0.19). With Ψ parameters, mixed-precision Adam
/// (K = 12: FP32 master weights, momentum and variance) and Nd data-parallel ranks the paper gives
///
///     stage 0  (2 + 2 + K)Ψ        stage 2  2Ψ + (2 + K)Ψ/Nd
///     stage 1  2Ψ + 2Ψ + KΨ/Nd     stage 3  (2 + 2 + K)Ψ/Nd
///
/// DeepSpeed's estimators count the gradients differently from the paper and add a term:
/// - an FP32 gradient partition (4Ψ/Nd), which the update reads: stages 1 and 2 convert the
///   reduced 16-bit gradients into it (stage 2: 2Ψ + (2 + 4 + 12)Ψ/Nd = 2Ψ + 18Ψ/Nd); stage 3
///   accumulates the reduced partition in FP32 directly and keeps no 16-bit gradient partition
///   ((2 + 4 + 12)Ψ/Nd = 18Ψ/Nd);
/// - under ZeRO-3, the largest layer's parameters gathered whole and its gradient computed whole
///   (2 + 2 bytes per parameter of the largest layer L: 4L).
/// Offloading the optimizer moves the FP32 master weights, the optimizer states and the FP32
/// gradient partition to the host, and under stage 2 the 16-bit gradient partition too (each
/// bucket is copied down as it is reduced): stage 2 keeps 2Ψ, stage 3 2Ψ/Nd + 4L; offloading the
/// parameters as well leaves ZeRO-3 only 4L. Stage 1 has no estimator of its own (DeepSpeed's
/// `stage_1_and_2` estimate is stage 2's); it is stage 2 with the 16-bit gradients whole (they
/// accumulate over the micro-batches and are reduced at the step's end), 2Ψ more, offloaded or not.
/// DeepSpeed's 1.5 "buffer factor" multiplies only its host figures; the device figures are these.
///
/// Generalised to any weight/gradient width and optimizer-state size: FP32 training (4-byte
/// weights and gradients, K = 8: momentum and variance) keeps no FP32 gradient copy, its gradients
/// being FP32 already.
///
///     ModelStateMemory(parameterCount: 1e9, zero: 2, dataParallel: 8).total   // 2e9 + 18e9/8 = 4.25e9 bytes
public struct ModelStateMemory: Codable, Equatable, Sendable {
    public var parameters: Double
    /// The working-precision gradients (or their partition) and the FP32 gradient partition.
    public var gradients: Double
    public var optimizerStates: Double
    /// ZeRO-3's gathered largest layer: its 16-bit parameters and gradient, whole.
    public var gatheredLayer: Double = 0
    /// Bytes this rank's offloaded states take in host memory.
    public var host: Double = 0
    public var total: Double { parameters + gradients + optimizerStates + gatheredLayer }

    /// - Parameters:
    ///   - parameterCount: Ψ, the parameters this rank's model-parallel shard holds.
    ///   - largestLayerParameters: L, the parameters of the largest layer (one module's own
    ///     weight and bias) of the shard; ZeRO-3 gathers it whole.
    ///   - weightBytes, gradientBytes: bytes of a working weight and of a gradient (2 in mixed precision).
    ///   - optimizerBytes: K, bytes of optimizer state per parameter (12 for mixed-precision Adam,
    ///     the FP32 master weights included).
    ///   - offload: what lives in host memory rather than on the device.
    public init(parameterCount psi: Double, largestLayerParameters largest: Double = 0, zero: Int, dataParallel nd: Int,
                weightBytes: Double = 2, gradientBytes: Double = 2, optimizerBytes: Double = 12,
                offload: StateOffload = .none) {
        let n = Double(max(nd, 1))
        let partition = max(gradientBytes, 4)                  // the FP32 gradient partition
        let offloadsOptimizer = offload != .none && zero >= 1
        let offloadsParameters = offload == .optimizerAndParameters && zero >= 3
        let weights = weightBytes * psi / (zero >= 3 ? n : 1)
        let narrow: Double             // the working-precision gradients kept beside the partition
        let fp32: Double               // the FP32 gradient partition
        switch zero {
        case 0: (narrow, fp32) = (gradientBytes * psi, 0)
        case 1, 2:
            narrow = zero == 2 && offloadsOptimizer ? 0 : gradientBytes * psi / (zero == 2 ? n : 1)
            fp32 = gradientBytes < 4 ? partition * psi / n : 0
        default: (narrow, fp32) = (0, partition * psi / n)
        }
        parameters = offloadsParameters ? 0 : weights
        gradients = narrow + (offloadsOptimizer ? 0 : fp32)
        optimizerStates = offloadsOptimizer ? 0 : optimizerBytes * psi / (zero >= 1 ? n : 1)
        gatheredLayer = zero >= 3 ? (weightBytes + gradientBytes) * largest : 0
        host = (offloadsOptimizer ? optimizerBytes * psi / n + fp32 : 0)
            + (offloadsParameters ? weights : 0)
    }
}

/// Activation bytes one transformer layer keeps for its backward pass, with 16-bit activations
/// (Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models",
/// Table 2), for sequence length s, micro-batch b, hidden size h, a heads and t tensor-parallel ranks:
///
///     no parallelism                          sbh(34 + 5as/h)
///     tensor parallel                         sbh(10 + 24/t + 5as/(ht))
///     tensor + sequence parallel              sbh(34/t + 5as/(ht))
///     tensor parallel + selective recompute   sbh(10 + 24/t)
///     tensor + sequence + selective           sbh(34/t)
///     full recompute                          2sbh   (only the layer's input; 2sbh/t with sequence parallel)
///
/// FlashAttention (Dao et al. 2022, §3.1) computes attention in tiles and keeps no s × s score,
/// softmax or dropout matrix for the backward pass — it recomputes them from Q, K and V — so the
/// 5as/h term drops out (its per-row softmax statistics, O(s), are left out as negligible).
///
/// The counts assume dropout after attention and in both residual branches, as GPT-3 and
/// Megatron-LM train (the masks take a byte per element).
public func transformerLayerActivationBytes(sequence s: Int, microBatch b: Int, hidden h: Int, heads a: Int,
                                            tensorParallel t: Int = 1, sequenceParallel: Bool = false,
                                            checkpointing: ParallelPlan.Checkpointing = .none, flashAttention: Bool = false) -> Double {
    transformerLayerActivationBytes(GPTSpec(layers: 1, hidden: h, heads: a, sequenceLength: s, vocabulary: 2), microBatch: b,
                                    tensorParallel: t, sequenceParallel: sequenceParallel, checkpointing: checkpointing,
                                    flashAttention: flashAttention)
}

/// Korthikanti et al.'s count (Table 2 and §4.1, above) taken term by term for any decoder shape,
/// with kv = key/value heads × head width, f the MLP width, and cp context-parallel ranks:
///
///     replicated over tp       10sbh   the two norms' inputs 4sbh, the QKV and MLP inputs 2sbh
///                                      each, the two residual dropout masks 2sbh
///     attention, split by tp   4sbh + 4sb·kv   Q, the output projection's input, K and V
///     MLP, split by tp         GELU 4sbf (the GELU's input and output); SwiGLU 6sbf (the
///                              2f-wide gate-and-up output and the f-wide product; the SiLU is
///                              recomputed from the first, as Megatron's fused `swiglu` does)
///     mixture of experts       the MLP term and the dispatched tokens (2sbh) times k·c
///     scores, split by tp      5as²b   (none with FlashAttention or selective recomputation)
///
/// With kv = h and f = 4h this is 34sbh + 5as²b, the GPT count. Context parallelism gives each
/// rank s/cp of the tokens — of every term, the scores included (s/cp queries against s keys) — so
/// everything divides by cp.
public func transformerLayerActivationBytes(_ model: GPTSpec, microBatch b: Int, tensorParallel t: Int = 1, contextParallel cp: Int = 1,
                                            sequenceParallel: Bool = false, checkpointing: ParallelPlan.Checkpointing = .none,
                                            flashAttention: Bool = false) -> Double {
    let sb = Double(model.sequenceLength) * Double(b) / Double(max(cp, 1))
    let h = Double(model.hidden), kv = Double(model.keyValueWidth), f = Double(model.ffnWidth)
    let t = Double(t)
    if checkpointing == .full { return 2 * sb * h / (sequenceParallel ? t : 1) }
    let slots = model.isMixtureOfExperts ? Double(model.topK) * (model.capacityFactor ?? 1) : 1
    let mlp = (model.mlp == .swiglu ? 6 * f : 4 * f) + (model.isMixtureOfExperts ? 2 * h : 0)
    let replicated = 10 * sb * h
    let split = sb * (4 * h + 4 * kv + slots * mlp)
    let scores = flashAttention || checkpointing == .selective
        ? 0 : 5 * Double(model.heads) * sb * Double(model.sequenceLength)
    return (sequenceParallel ? replicated / t : replicated) + split / t + scores / t
}
