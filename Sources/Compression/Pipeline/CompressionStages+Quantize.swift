import Engine

/// What a quantize step left: the model to measure, its test scores, and how it computes.
struct QuantizedResult {
    var model: Model
    var accuracy: Double
    var loss: Double
    /// Seconds of its test-set pass, and of the float model's before it.
    var seconds: Double
    var floatSeconds: Double
    var inference: String
}

extension CompressionStages {
    /// Post-training (static or dynamic) quantization, or quantization-aware training, then — for
    /// uniform, symmetric, per-channel weights of 2 to 8 bits — conversion to integer Linear and Conv2d kernels
    /// (int8 × int8 → int32); other schemes are measured as fake-quantized floats ("simulated").
    func quantize(_ model: Model, _ q: QuantizeStep, encodings: inout WeightEncodings) throws -> QuantizedResult {
        // The float model's test pass was timed where the last stage evaluated it.
        let floatSeconds = last?.testSeconds ?? 0
        let batch = recipe.candidate.training.batchSize
        let mode: ActivationQuantizer.Mode = q.mode == .qat ? .fakeQuantize : .observe
        let wrapped = try NetworkSurgery.remodel(model, network: NetworkSurgery.rebuild(model.network) { layer in
            layer is Linear || layer is Conv2d ? ActivationQuantizer(layer, mode: mode, bits: q.activationBits, method: q.range) : nil
        })
        let quantizers = NetworkSurgery.leaves(wrapped.network).compactMap { $0 as? ActivationQuantizer }
        let weights = NetworkSurgery.weights(of: wrapped)
        var current = wrapped
        switch q.mode {
        case .qat:
            working.fakeQuantized = weights.map { ($0, q.weights) }
            working.masks = working.masks.filter { id, _ in wrapped.store.parameters.contains { ObjectIdentifier($0) == id } }
            log?("quantization-aware training, \(q.weights.bits)-bit weights, \(q.activationBits)-bit activations, \(q.epochs) epochs")
            current = try finetune(wrapped, epochs: q.epochs, rate: q.learningRate).1
        case .ptq:
            log?("calibrating activation ranges on \(min(q.calibrationSamples, splits.train.count)) training samples")
            wrapped.forEachBatch(of: splits.train, batchSize: 256, limit: q.calibrationSamples) { x, _ in
                _ = wrapped.forward(x, training: false)
            }
        case .dynamic:
            break
        }
        working.detach(from: current)
        for w in weights {
            encodings.quantized[ObjectIdentifier(w.parameter)] = (q.weights.bits, q.weights.perChannel ? w.channels : 1, !q.weights.symmetric)
        }
        noteQuantized(from: current.store.parameters)

        let integer = q.weights.levels == .uniform && q.weights.symmetric && q.weights.perChannel && q.weights.bits >= 2
        guard integer else {
            // Fake-quantize the weights once more (QAT already did) and measure in float.
            for w in weights {
                fakeQuantize(w.parameter.value.data, shape: w.parameter.shape, channelAxis: w.channelAxis, scheme: q.weights, range: .minMax)
            }
            for a in quantizers { a.mode = .fakeQuantize }
            let t = Self.timedEvaluation(current, splits.test, batchSize: batch)
            return QuantizedResult(model: current, accuracy: t.accuracy, loss: t.loss, seconds: t.seconds, floatSeconds: floatSeconds,
                                   inference: "simulated " + (q.weights.bits == 1 ? "binary" : "int\(q.weights.bits)"))
        }
        let dynamic = q.mode == .dynamic
        let network = try NetworkSurgery.rebuild(current.network) { layer -> Layer? in
            guard let a = layer as? ActivationQuantizer else { return nil }
            let input: Int8InputQuantization = dynamic ? .dynamic : .calibrated(a.inputQuantization)
            switch a.inner {
            case let linear as Linear:
                return try QuantizedLinear(linear, weightBits: q.weights.bits, input: input)
            case let conv as Conv2d:
                return try QuantizedConv2d(conv, weightBits: q.weights.bits, input: input)
            default:
                return a.inner
            }
        }
        let integerModel = try NetworkSurgery.remodel(current, network: network)
        let t = Self.timedEvaluation(integerModel, splits.test, batchSize: batch)
        return QuantizedResult(model: integerModel, accuracy: t.accuracy, loss: t.loss, seconds: t.seconds, floatSeconds: floatSeconds,
                               inference: (dynamic ? "dynamic " : "") + "int\(q.weights.bits)")
    }
}
