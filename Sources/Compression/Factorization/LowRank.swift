import Engine

/// How many singular triplets a low-rank factorization keeps.
///
/// - `rank(r)`: exactly r (at most min(rows, columns));
/// - `energy(f)`: the smallest r whose kept singular-value energy Σ_{i≤r} σᵢ² reaches f·Σ σᵢ².
///
/// In JSON: `{"rank": 16}` or `{"energy": 0.9}`.
public enum RankChoice: Codable, Equatable, Sendable {
    case rank(Int)
    case energy(Double)

    /// What is wrong with this choice, nil when it can be used.
    var problem: (key: String, reason: String)? {
        switch self {
        case .rank(let r):
            return r >= 1 ? nil : ("rank", "must be at least 1, got \(r)")
        case .energy(let f):
            return f.isFinite && f >= 0 && f <= 1 ? nil : ("energy", "must be between 0 and 1, got \(f)")
        }
    }

    /// Throws the value that cannot be used, under `keyPath` (e.g. `compression.low_rank`).
    public func validate(keyPath: String = "") throws {
        if let problem { throw ConfigError(keyPath: ConfigError.join(keyPath, problem.key), reason: problem.reason) }
    }

    private enum Key: String, CodingKey, CaseIterable { case rank, energy }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        let names = Key.allCases.map(\.rawValue)
        try ConfigError.rejectUnknownKeys(in: decoder, allowed: names, owner: "the rank choice")
        let present = container.allKeys.map(\.stringValue).sorted()
        guard present.count == 1, let key = Key(rawValue: present[0]) else {
            throw ConfigError(keyPath: decoder.keyPath,
                              reason: "expected exactly one of \(names.joined(separator: ", ")), got \(present.isEmpty ? "none" : present.joined(separator: ", "))")
        }
        let path = decoder.keyPath(key.rawValue)
        do {
            switch key {
            case .rank: self = .rank(try container.decode(Int.self, forKey: AnyKey(stringValue: key.rawValue)))
            case .energy: self = .energy(try container.decode(Double.self, forKey: AnyKey(stringValue: key.rawValue)))
            }
        } catch is DecodingError {
            throw ConfigError(keyPath: path, reason: key == .rank ? "expected a whole number" : "expected a number")
        }
        try validate(keyPath: decoder.keyPath)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        switch self {
        case .rank(let r): try container.encode(r, forKey: .rank)
        case .energy(let f): try container.encode(f, forKey: .energy)
        }
    }
}

/// The rank `choice` selects from singular values `sv` (descending), between 1 and `sv.count`.
///
/// For `.energy(f)` the cumulative energy is compared with f·Σσ² up to a relative 1e-12, so a
/// fraction written in decimal that lands exactly on a boundary is not lost to rounding; a zero
/// matrix keeps rank 1.
///
///     chooseRank([4, 3], .energy(0.6))   // 1: 16 of 25 is 64 %
///     chooseRank([4, 3], .rank(5))       // 2
public func chooseRank(_ sv: [Float], _ choice: RankChoice) -> Int {
    guard !sv.isEmpty else { return 0 }
    switch choice {
    case .rank(let r):
        return min(max(r, 1), sv.count)
    case .energy(let fraction):
        let energies = sv.map { Double($0) * Double($0) }
        let total = energies.reduce(0, +)
        let target = min(max(fraction, 0), 1) * total * (1 - 1e-12)
        var kept = 0.0
        for (i, e) in energies.enumerated() {
            kept += e
            if kept >= target { return i + 1 }
        }
        return sv.count
    }
}

/// Whether a rank-r factorization of a rows×columns matrix stores fewer values than the matrix:
/// r·(rows + columns) < rows·columns.
public func worthFactorizing(rows: Int, columns: Int, rank: Int) -> Bool {
    rank * (rows + columns) < rows * columns
}

/// Replace W (rows×columns) by left·right of rank r, the truncated SVD with √σ split between both
/// factors: left = U_r·diag(√σ), right = diag(√σ)·V_rᵀ.
///
/// By the Eckart–Young theorem (Eckart & Young 1936) the product is the best rank-r approximation in
/// the Frobenius norm, with ‖W − left·right‖²_F = Σ_{i>r} σᵢ². `discardedEnergy` is that error as a
/// fraction of ‖W‖²_F (0 for a zero matrix).
///
///     let f = try factorize(w, rows: 256, columns: 128, choice: .energy(0.95))
///     // f.left: (256, f.rank), f.right: (f.rank, 128)
///
/// - Throws: `FactorizationError` for a mis-sized matrix, an invalid choice or a failed SVD.
public func factorize(_ w: [Float], rows: Int, columns: Int, choice: RankChoice) throws
    -> (left: [Float], right: [Float], rank: Int, discardedEnergy: Double) {
    if let problem = choice.problem { throw FactorizationError(reason: "\(problem.key) \(problem.reason)") }
    let svd = try SingularValueDecomposition(matrix: w, rows: rows, columns: columns)
    let full = svd.components
    let r = chooseRank(svd.singularValues, choice)
    let roots = svd.singularValues.prefix(r).map { $0.squareRoot() }

    var left = [Float](repeating: 0, count: rows * r)          // (rows, r)
    for i in 0..<rows {
        for j in 0..<r { left[i * r + j] = svd.u[i * full + j] * roots[j] }
    }
    var right = [Float](repeating: 0, count: r * columns)      // (r, columns)
    for j in 0..<r {
        for c in 0..<columns { right[j * columns + c] = roots[j] * svd.vt[j * columns + c] }
    }

    let energies = svd.singularValues.map { Double($0) * Double($0) }
    let total = energies.reduce(0, +)
    let discarded = energies[r...].reduce(0, +)
    return (left, right, r, total > 0 ? discarded / total : 0)
}
