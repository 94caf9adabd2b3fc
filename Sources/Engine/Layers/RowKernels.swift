/// Row-wise kernels shared by layers: fills, per-row vectors, column sums.

/// p[0..<count] = 0, in parallel.
func fillZeros(_ p: UnsafeMutablePointer<Float>, count: Int) {
    parallelRanges(count, minimumPerThread: 1 << 16) { r in (p + r.lowerBound).update(repeating: 0, count: r.count) }
}

/// y[r, c] = v[c] for every row.
func fillRows(_ y: UnsafeMutablePointer<Float>, with v: UnsafePointer<Float>, rows: Int, columns: Int) {
    parallelRanges(rows, minimumPerThread: max(1, 16_384 / max(columns, 1))) { r in
        for i in r {
            let row = y + i * columns
            for c in 0..<columns { row[c] = v[c] }
        }
    }
}

/// s[c] += Σ_r x[r, c], in parallel over rows with one partial row per thread in `partials`
/// (threads, separatedStride(columns)), summed in a fixed order so the result does not depend on
/// timing.
func accumulateColumnSumsInParallel(_ x: UnsafePointer<Float>, rows: Int, columns: Int, into s: UnsafeMutablePointer<Float>,
                                    partials: UnsafeMutablePointer<Float>) {
    let threads = EngineThreads.count, stride = separatedStride(columns, of: Float.self)
    let chunk = (rows + threads - 1) / threads
    parallelRanges(threads, minimumPerThread: max(1, 16_384 / max(chunk * columns, 1))) { ts in
        for t in ts {
            let p = partials + t * stride
            p.update(repeating: 0, count: columns)
            for i in min(rows, t * chunk)..<min(rows, (t + 1) * chunk) {
                let row = x + i * columns
                for c in 0..<columns { p[c] += row[c] }
            }
        }
    }
    for t in 0..<threads {
        let p = partials + t * stride
        for c in 0..<columns { s[c] += p[c] }
    }
}

/// Elements between the starts of per-thread partial rows of `count` elements: rounded up to whole
/// 64-byte cache lines plus one, so threads accumulating into neighbouring rows never share a line.
func separatedStride<T>(_ count: Int, of type: T.Type) -> Int {
    let perLine = max(1, 64 / MemoryLayout<T>.stride)
    return (count + perLine - 1) / perLine * perLine + perLine
}

/// y[r, c] += v[c] for every row.
@inline(__always)
func addRowVector(_ v: UnsafePointer<Float>, to y: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
    parallelRanges(rows, minimumPerThread: max(1, (1 << 17) / max(columns, 1))) { r in
        for i in r {
            let row = y + i * columns
            for c in 0..<columns { row[c] += v[c] }
        }
    }
}

/// s[c] += Σ_r x[r, c].
@inline(__always)
func accumulateColumnSums(_ x: UnsafePointer<Float>, rows: Int, columns: Int, into s: UnsafeMutablePointer<Float>) {
    for i in 0..<rows {
        let row = x + i * columns
        for c in 0..<columns { s[c] += row[c] }
    }
}
