/// Bytes of model states per rank under ZeRO (Rajbhandari et al. 2019, §5 and Table 1): with Ψ
/// parameters, mixed-precision Adam (K = 12: FP32 master weights, momentum and variance) and Nd
/// data-parallel ranks,
///
///     stage 0  (2 + 2 + K)Ψ        stage 2  2Ψ + (2 + K)Ψ/Nd
///     stage 1  2Ψ + 2Ψ + KΨ/Nd     stage 3  (2 + 2 + K)Ψ/Nd
///
/// Generalised to any weight/gradient width and optimizer-state size, so FP32 training (4-byte
/// weights and gradients, K = 8: momentum and variance) is priced the same way.
public struct ModelStateMemory: Codable, Equatable, Sendable {
    public var parameters: Double
    public var gradients: Double
    public var optimizerStates: Double
    public var total: Double { parameters + gradients + optimizerStates }

    /// - Parameters:
    ///   - parameterCount: Ψ, the parameters this rank's model-parallel shard holds.
    ///   - weightBytes, gradientBytes: bytes of a working weight and of a gradient (2 in mixed precision).
    ///   - optimizerBytes: K, bytes of optimizer state per parameter (12 for mixed-precision Adam).
    ///   - offloaded: optimizer states live in host memory (ZeRO-Offload), not on the device.
    public init(parameterCount psi: Double, zero: Int, dataParallel nd: Int, weightBytes: Double = 2,
                gradientBytes: Double = 2, optimizerBytes: Double = 12, offloaded: Bool = false) {
        let n = Double(max(nd, 1))
        parameters = weightBytes * psi / (zero >= 3 ? n : 1)
        gradients = gradientBytes * psi / (zero >= 2 ? n : 1)
        optimizerStates = offloaded ? 0 : optimizerBytes * psi / (zero >= 1 ? n : 1)
    }
}

/// DeepSpeed's own estimators of model-state memory (`estimate_zero2_model_states_mem_needs` in
/// `deepspeed.runtime.zero.stage_1_and_2` and `estimate_zero3_model_states_mem_needs` in
/// `deepspeed.runtime.zero.stage3`, DeepSpeed's "Memory Requirements" page), as bytes per GPU and
/// per CPU (node). They assume mixed-precision Adam and multiply host figures by a buffer factor
/// (1.5 by default).
public enum DeepSpeedEstimate {
    /// ZeRO-2. With offload: GPU 2Ψ; CPU Ψ·max(4·gpus, 16)·factor. Without: GPU 4Ψ + 16Ψ/gpus;
    /// CPU 4Ψ·gpus-per-node·factor.
    public static func zero2(totalParameters psi: Double, gpusPerNode: Int, nodes: Int, offload: Bool,
                             bufferFactor: Double = 1.5) -> (cpu: Double, gpu: Double) {
        let gpus = Double(gpusPerNode * nodes)
        if offload {
            return (psi * max(4 * gpus, 16) * bufferFactor, 2 * psi)
        }
        return (psi * 4 * Double(gpusPerNode) * bufferFactor, 4 * psi + (16 * psi / gpus).rounded(.towardZero))
    }

    /// ZeRO-3, with the largest layer's parameters gathered whole on the GPU (4 bytes each).
    /// Offloading parameters and optimizer: GPU 4·largest; CPU 18Ψ/nodes·factor (zero.Init) or
    /// Ψ·max(4·gpus-per-node, 18/nodes)·factor. Optimizer only: GPU 4·largest + 2Ψ/gpus; CPU 16 in
    /// place of 18. Nothing offloaded: GPU 4·largest + 18Ψ/gpus; CPU 4·largest·gpus-per-node·factor
    /// (zero.Init) or 4Ψ·gpus-per-node·factor.
    public static func zero3(totalParameters psi: Double, largestLayerParameters largest: Double, gpusPerNode: Int,
                             nodes: Int, offloadOptimizer: Bool, offloadParameters: Bool, zeroInit: Bool,
                             bufferFactor: Double = 1.5) -> (cpu: Double, gpu: Double) {
        let gpus = Double(gpusPerNode * nodes), perNode = Double(gpusPerNode), nodeShare = 1 / Double(nodes)
        let largestBytes = 4 * largest
        if offloadOptimizer {
            let states = offloadParameters ? 18.0 : 16.0
            let gpu = offloadParameters ? largestBytes : largestBytes + (2 * psi / gpus).rounded(.towardZero)
            let cpu = zeroInit ? psi * states * nodeShare * bufferFactor
                               : psi * max(4 * perNode, states * nodeShare) * bufferFactor
            return (cpu, gpu)
        }
        let gpu = largestBytes + (18 * psi / gpus).rounded(.towardZero)
        let cpu = zeroInit ? largest * 4 * perNode * bufferFactor : psi * 4 * perNode * bufferFactor
        return (cpu, gpu)
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
    let sbh = Double(s) * Double(b) * Double(h)
    let t = Double(t)
    let attention = flashAttention ? 0 : 5 * Double(a) * Double(s) / (Double(h) * t)
    switch checkpointing {
    case .full:
        return 2 * sbh / (sequenceParallel ? t : 1)
    case .selective:
        return sbh * (sequenceParallel ? 34 / t : 10 + 24 / t)
    case .none:
        return sbh * ((sequenceParallel ? 34 / t : 10 + 24 / t) + attention)
    }
}
