import Engine

/// How a compressed network differs from the one its spec builds, as the kept file's `forms`.
///
/// Every form names a layer of the spec's network, or of a form before it (the factors `fc0.v` and
/// `fc0.u` of a factorized `fc0`), and replaces it, as the compression steps did:
///
///     {"layer": "fc0", "low_rank": 4}
///     {"layer": "fc0.v", "int8": {"weight_bits": 8, "input": "dynamic"}}
///     {"layer": "classifier", "int8": {"weight_bits": 8, "input": {"zero_point": -3, "qmin": -128, "qmax": 127}}}
///     {"layer": "fc1", "fake_quantized_input": {"bits": 8, "method": "minmax"}}
///
/// - `low_rank` r: a Linear becomes `NAME.v` (in → r, no bias) then `NAME.u` (r → out); a Conv2d
///   becomes a k×k `NAME.v` (cin → r) then a 1×1 `NAME.u` (`factorizeLowRank`);
/// - `int8`: a Linear or Conv2d becomes a `QuantizedLinear` or `QuantizedConv2d` with tensors
///   `NAME.weight_codes` (i8, (out, depth)), `NAME.weight_scales`, `NAME.bias` when it has one, and
///   for a calibrated input `NAME.input_scale` (one value);
/// - `fake_quantized_input`: the layer's input is fake-quantized (`ActivationQuantizer`) with the
///   range it learned, tensor `NAME.input_range` (min, max).
///
/// Pruned weights are zeros and shared weights hold their centroids: both are plain numbers and
/// need no form; a structurally pruned model is its thinner spec.
extension TrainedModelFile {
    struct Form: Codable, Equatable {
        var layer: String
        var lowRank: Int?
        var int8: Int8Form?
        var fakeQuantizedInput: QuantizerForm?

        enum CodingKeys: String, CodingKey {
            case layer, int8
            case lowRank = "low_rank", fakeQuantizedInput = "fake_quantized_input"
        }
    }

    struct Int8Form: Codable, Equatable {
        var weightBits: Int
        var input: Int8InputForm

        enum CodingKeys: String, CodingKey { case input, weightBits = "weight_bits" }
    }

    /// `"dynamic"`, or the calibrated zero point and code range (the scale is a tensor).
    enum Int8InputForm: Codable, Equatable {
        case dynamic
        case calibrated(zeroPoint: Int32, qmin: Int32, qmax: Int32)

        private enum Keys: String, CodingKey { case qmin, qmax, zeroPoint = "zero_point" }

        init(from decoder: Decoder) throws {
            if let word = try? decoder.singleValueContainer().decode(String.self) {
                guard word == "dynamic" else { throw Problem("int8 input '\(word)' is neither \"dynamic\" nor calibrated parameters") }
                self = .dynamic
                return
            }
            let c = try decoder.container(keyedBy: Keys.self)
            self = .calibrated(zeroPoint: try c.decode(Int32.self, forKey: .zeroPoint), qmin: try c.decode(Int32.self, forKey: .qmin),
                               qmax: try c.decode(Int32.self, forKey: .qmax))
        }

        func encode(to encoder: Encoder) throws {
            switch self {
            case .dynamic:
                var c = encoder.singleValueContainer()
                try c.encode("dynamic")
            case .calibrated(let zero, let qmin, let qmax):
                var c = encoder.container(keyedBy: Keys.self)
                try c.encode(zero, forKey: .zeroPoint)
                try c.encode(qmin, forKey: .qmin)
                try c.encode(qmax, forKey: .qmax)
            }
        }
    }

    struct QuantizerForm: Codable, Equatable {
        var bits: Int
        var method: RangeMethod
    }

    // MARK: Describing

    /// The forms of `layer` and everything in it, their tensors added to `tensors`.
    static func describe(_ layer: Layer, forms: inout [Form], tensors: inout TensorWriter) throws {
        switch layer {
        case let s as Sequential:
            if s.layers.count == 2, s.layers[0].name == s.name + ".v", s.layers[1].name == s.name + ".u",
               let rank = outputUnits(s.layers[0]) {
                forms.append(Form(layer: s.name, lowRank: rank))
            }
            for l in s.layers { try describe(l, forms: &forms, tensors: &tensors) }
        case let r as Residual:
            try describe(r.body, forms: &forms, tensors: &tensors)
        case let t as TransformerBlock:
            try describe(t.body, forms: &forms, tensors: &tensors)
        case let q as QuantizedLinear:
            forms.append(Form(layer: q.name, int8: Int8Form(weightBits: q.weightBits, input: inputForm(q.input, q.name, &tensors))))
            addInt8(q.name, q.weightCodes, q.weightScales, q.bias, &tensors)
        case let q as QuantizedConv2d:
            forms.append(Form(layer: q.name, int8: Int8Form(weightBits: q.weightBits, input: inputForm(q.input, q.name, &tensors))))
            addInt8(q.name, q.weightCodes, q.weightScales, q.bias, &tensors)
        case let a as ActivationQuantizer:
            guard a.mode == .fakeQuantize, let range = a.range else {
                throw Problem("'\(a.name)' still observes its input's range: its quantization is not fixed yet")
            }
            forms.append(Form(layer: a.name, fakeQuantizedInput: QuantizerForm(bits: a.scheme.bits, method: a.observer.method)))
            tensors.add(a.name + ".input_range", [range.min, range.max])
            try describe(a.inner, forms: &forms, tensors: &tensors)
        default:
            break
        }
    }

    private static func inputForm(_ input: Int8InputQuantization, _ name: String, _ tensors: inout TensorWriter) -> Int8InputForm {
        switch input {
        case .dynamic:
            return .dynamic
        case .calibrated(let q):
            tensors.add(name + ".input_scale", q.scale)
            return .calibrated(zeroPoint: q.zeroPoint[0], qmin: q.qmin, qmax: q.qmax)
        }
    }

    private static func addInt8(_ name: String, _ codes: [Int8], _ scales: [Float], _ bias: [Float]?, _ tensors: inout TensorWriter) {
        tensors.add(name + ".weight_codes", codes)
        tensors.add(name + ".weight_scales", scales)
        if let bias { tensors.add(name + ".bias", bias) }
    }

    /// The outputs of a Linear or Conv2d, plain, int8 or fake-quantized.
    private static func outputUnits(_ layer: Layer) -> Int? {
        switch layer {
        case let l as Linear: return l.outFeatures
        case let c as Conv2d: return c.outChannels
        case let q as QuantizedLinear: return q.outFeatures
        case let q as QuantizedConv2d: return q.outChannels
        case let a as ActivationQuantizer: return outputUnits(a.inner)
        default: return nil
        }
    }

    // MARK: Rebuilding

    /// `base` (built from the spec) with every form applied, its int8 and quantizer tensors read.
    static func rebuild(_ base: Model, forms: [Form], tensors: TensorReader) throws -> Model {
        guard !forms.isEmpty else { return base }
        var byName: [String: Form] = [:]
        for f in forms {
            guard byName.updateValue(f, forKey: f.layer) == nil else { throw Problem("two forms for layer '\(f.layer)'") }
        }
        var applied = Set<String>()
        func transform(_ layer: Layer) throws -> Layer? {
            guard let form = byName[layer.name] else { return nil }
            applied.insert(layer.name)
            if let rank = form.lowRank {
                guard rank >= 1 else { throw Problem("'\(layer.name)': rank \(rank)") }
                let pair: Sequential
                switch layer {
                case let l as Linear where l.ownsWeight: pair = lowRankLinear(l, rank: rank).pair
                case let c as Conv2d: pair = lowRankConv2d(c, rank: rank).pair
                default: throw Problem("'\(layer.name)' is a \(type(of: layer)), which is not factorized")
                }
                return Sequential(pair.name, try pair.layers.map { try transform($0) ?? $0 })
            }
            if let q = form.int8 { return try int8Layer(layer, q, tensors) }
            if let a = form.fakeQuantizedInput {
                guard layer is Linear || layer is Conv2d else { throw Problem("'\(layer.name)' is a \(type(of: layer)), whose input is not quantized") }
                let range = try tensors.floats(layer.name + ".input_range", count: 2)
                return ActivationQuantizer(layer, bits: a.bits, method: a.method, range: (range[0], range[1]))
            }
            throw Problem("the form for '\(layer.name)' changes nothing")
        }
        let network = try NetworkSurgery.rebuild(base.network, transform)
        let missing = Set(byName.keys).subtracting(applied).sorted()
        guard missing.isEmpty else { throw Problem("forms name layers the model does not have: \(missing.joined(separator: ", "))") }
        do { return try NetworkSurgery.remodel(base, network: network) } catch {
            throw Problem("the rebuilt network does not fit its input: \(error)")
        }
    }

    private static func int8Layer(_ layer: Layer, _ form: Int8Form, _ tensors: TensorReader) throws -> Layer {
        let name = layer.name
        let input: Int8InputQuantization
        switch form.input {
        case .dynamic:
            input = .dynamic
        case .calibrated(let zero, let qmin, let qmax):
            let scale = try tensors.floats(name + ".input_scale", count: 1)
            input = .calibrated(AffineQuantization(scale: scale, zeroPoint: [zero], qmin: qmin, qmax: qmax))
        }
        do {
            switch layer {
            case let l as Linear:
                return try QuantizedLinear(name: name, inFeatures: l.inFeatures, outFeatures: l.outFeatures, weightBits: form.weightBits, input: input,
                                           weightCodes: try tensors.codes(name + ".weight_codes", count: l.outFeatures * l.inFeatures),
                                           weightScales: try tensors.floats(name + ".weight_scales", count: l.outFeatures),
                                           bias: l.bias == nil ? nil : try tensors.floats(name + ".bias", count: l.outFeatures))
            case let c as Conv2d:
                let depth = c.kernel * c.kernel * c.inChannels
                return try QuantizedConv2d(name: name, inChannels: c.inChannels, outChannels: c.outChannels, kernel: c.kernel, stride: c.stride,
                                           padding: c.padding, weightBits: form.weightBits, input: input,
                                           weightCodes: try tensors.codes(name + ".weight_codes", count: c.outChannels * depth),
                                           weightScales: try tensors.floats(name + ".weight_scales", count: c.outChannels),
                                           bias: c.bias == nil ? nil : try tensors.floats(name + ".bias", count: c.outChannels))
            default:
                throw Problem("'\(name)' is a \(type(of: layer)), which has no int8 form")
            }
        } catch let e as ConfigError {
            throw Problem("int8 layer \(e.description)")
        }
    }
}
