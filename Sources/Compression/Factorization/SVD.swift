import CBLAS

/// Why a matrix could not be decomposed or factorized, with the offending value.
///
///     FactorizationError(reason: "matrix has 5 values, expected 2×3 = 6")
public struct FactorizationError: Error, CustomStringConvertible, Equatable, Sendable {
    public let reason: String

    public init(reason: String) { self.reason = reason }

    public var description: String { reason }
}

/// The thin singular value decomposition A = U·diag(σ)·Vᵀ of a real matrix, by LAPACK's `sgesvd`.
///
/// With r = min(rows, columns): `u` is rows×r, `vt` is r×columns (both row-major, orthonormal
/// columns of U and rows of Vᵀ), and `singularValues` holds σ₁ ≥ … ≥ σ_r ≥ 0.
///
///     let svd = try SingularValueDecomposition(matrix: [3, 0, 0, 4], rows: 2, columns: 2)
///     svd.singularValues   // [4, 3]
public struct SingularValueDecomposition: Sendable {
    public let rows: Int
    public let columns: Int
    /// Left singular vectors, (rows, r) row-major.
    public let u: [Float]
    /// σ in descending order, r of them.
    public let singularValues: [Float]
    /// Right singular vectors transposed, (r, columns) row-major.
    public let vt: [Float]

    /// The number of singular triplets, min(rows, columns).
    public var components: Int { singularValues.count }

    /// Decompose `matrix`, (rows, columns) row-major.
    ///
    /// LAPACK is column-major, so the buffer is handed over as Aᵀ (columns × rows, column-major),
    /// whose thin SVD Aᵀ = U'·Σ·V'ᵀ gives A = V'·Σ·U'ᵀ. The column-major V'ᵀ (r × rows) has the same
    /// memory layout as a row-major U (rows × r), and the column-major U' (columns × r) the same as a
    /// row-major Vᵀ (r × columns), so no transposition is needed.
    ///
    /// - Throws: `FactorizationError` for an empty or mis-sized matrix, a non-finite value, or a
    ///   LAPACK failure (`info` ≠ 0).
    public init(matrix: [Float], rows: Int, columns: Int) throws {
        guard rows > 0, columns > 0 else {
            throw FactorizationError(reason: "matrix must have at least one row and one column, got \(rows)×\(columns)")
        }
        guard matrix.count == rows * columns else {
            throw FactorizationError(reason: "matrix has \(matrix.count) values, expected \(rows)×\(columns) = \(rows * columns)")
        }
        if let bad = matrix.firstIndex(where: { !$0.isFinite }) {
            throw FactorizationError(reason: "matrix value at row \(bad / columns), column \(bad % columns) is \(matrix[bad])")
        }
        guard rows <= Int(Int32.max) / columns else {
            throw FactorizationError(reason: "matrix \(rows)×\(columns) is too large for LAPACK's 32-bit indices")
        }
        let r = min(rows, columns)
        // LAPACK's view: m × n = columns × rows.
        var m = Int32(columns), n = Int32(rows)
        var lda = m, ldu = m, ldvt = Int32(r)
        var a = matrix
        var s = [Float](repeating: 0, count: r)
        var uPrime = [Float](repeating: 0, count: columns * r)     // (columns, r) column-major = Vᵀ
        var vtPrime = [Float](repeating: 0, count: r * rows)       // (r, rows) column-major = U
        var jobU = CChar(UInt8(ascii: "S")), jobVT = CChar(UInt8(ascii: "S"))   // thin U and Vᵀ
        var info: Int32 = 0

        func call(_ work: UnsafeMutablePointer<Float>, _ lwork: Int32) {
            var lwork = lwork
            sgesvd_(&jobU, &jobVT, &m, &n, &a, &lda, &s, &uPrime, &ldu, &vtPrime, &ldvt, work, &lwork, &info)
        }

        var query: Float = 0
        call(&query, -1)
        if let error = Self.failure(info) { throw error }
        let lwork = max(Int(query.rounded(.up)), 1, 5 * r + max(rows, columns))
        guard lwork <= Int(Int32.max) else {
            throw FactorizationError(reason: "LAPACK workspace of \(lwork) values is too large")
        }
        var work = [Float](repeating: 0, count: lwork)
        work.withUnsafeMutableBufferPointer { call($0.baseAddress!, Int32(lwork)) }
        if let error = Self.failure(info) { throw error }

        self.rows = rows
        self.columns = columns
        self.u = vtPrime
        self.singularValues = s
        self.vt = uPrime
    }

    /// The error LAPACK's `info` stands for, nil on success.
    private static func failure(_ info: Int32) -> FactorizationError? {
        if info == 0 { return nil }
        if info < 0 { return FactorizationError(reason: "sgesvd rejected argument \(-info) (info = \(info))") }
        return FactorizationError(reason: "sgesvd did not converge: \(info) superdiagonals of the bidiagonal form did not reach zero")
    }
}
