import Engine

/// Replace every Linear and Conv2d whose truncated SVD saves parameters by two thinner layers:
/// Linear(in → out) becomes Linear(in → r, no bias) then Linear(r → out); a k×k Conv2d, read as
/// its (k·k·cin, cout) matrix, becomes a k×k Conv2d(cin → r) then a 1×1 Conv2d(r → cout). The
/// factors split √σ between them (Denton et al. 2014 factor convolutions the same way).
///
/// Returns the rebuilt model (the old one must not be used afterwards) and a one-line summary.
public func factorizeLowRank(_ model: Model, choice: RankChoice) throws -> (Model, String) {
    var assignments: [(Parameter, [Float])] = []
    var replaced = 0, kept = 0
    let network = try NetworkSurgery.rebuild(model.network) { layer -> Layer? in
        switch layer {
        case let linear as Linear where linear.ownsWeight:
            let m = linear.outFeatures, n = linear.inFeatures
            let f = try factorize(linear.weight.value.array, rows: m, columns: n, choice: choice)
            guard worthFactorizing(rows: m, columns: n, rank: f.rank) else { kept += 1; return nil }
            let (pair, first, second) = lowRankLinear(linear, rank: f.rank)
            assignments.append((first.weight, f.right))          // (r, in)
            assignments.append((second.weight, f.left))          // (out, r)
            if let b = linear.bias, let nb = second.bias { assignments.append((nb, b.value.array)) }
            replaced += 1
            return pair
        case let conv as Conv2d:
            let m = conv.kernel * conv.kernel * conv.inChannels, n = conv.outChannels
            let f = try factorize(conv.weight.value.array, rows: m, columns: n, choice: choice)
            guard worthFactorizing(rows: m, columns: n, rank: f.rank) else { kept += 1; return nil }
            let (pair, first, second) = lowRankConv2d(conv, rank: f.rank)
            assignments.append((first.weight, f.left))           // (k, k, cin, r) = (k·k·cin, r)
            assignments.append((second.weight, f.right))         // (1, 1, r, cout) = (r, cout)
            if let b = conv.bias, let nb = second.bias { assignments.append((nb, b.value.array)) }
            replaced += 1
            return pair
        default:
            return nil
        }
    }
    let rebuilt = try NetworkSurgery.remodel(model, network: network)
    for (p, values) in assignments {
        precondition(values.count == p.count, "\(p.name): \(values.count) values for \(p.shape)")
        values.withUnsafeBufferPointer { p.value.data.update(from: $0.baseAddress!, count: values.count) }
    }
    let summary = "factorized \(replaced) layers (\(kept) kept whole): \(model.parameterCount) → \(rebuilt.parameterCount) parameters"
    return (rebuilt, summary)
}

/// The two layers a factorized Linear becomes at `rank`: `name.v` (in → r, no bias) then `name.u`
/// (r → out, with the original's bias), in a Sequential named like the original. Their values
/// are the caller's to fill.
public func lowRankLinear(_ linear: Linear, rank: Int) -> (pair: Sequential, first: Linear, second: Linear) {
    let first = Linear(linear.name + ".v", linear.inFeatures, rank, bias: false)
    let second = Linear(linear.name + ".u", rank, linear.outFeatures, bias: linear.bias != nil)
    return (Sequential(linear.name, [first, second]), first, second)
}

/// The two layers a factorized Conv2d becomes at `rank`: the k×k `name.v` (cin → r, same stride
/// and padding, no bias) then the 1×1 `name.u` (r → cout, with the original's bias).
public func lowRankConv2d(_ conv: Conv2d, rank: Int) -> (pair: Sequential, first: Conv2d, second: Conv2d) {
    let first = Conv2d(conv.name + ".v", conv.inChannels, rank, kernel: conv.kernel, stride: conv.stride,
                       padding: conv.padding, bias: false)
    let second = Conv2d(conv.name + ".u", rank, conv.outChannels, kernel: 1, bias: conv.bias != nil)
    return (Sequential(conv.name, [first, second]), first, second)
}
