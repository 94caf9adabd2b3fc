/// Conv2d's direct kernel for a small window depth (k·k·cin ≤ 32, e.g. a first layer on grey or
/// RGB images), where a GEMM against a thin column matrix would be memory-bound.

/// Runs `body(t, share)` for each engine thread t, the shares splitting 0..<n into contiguous
/// ranges that depend only on n and the thread count; in parallel when there is enough work.
func forEachThreadShare(_ n: Int, workPerItem: Int, _ body: (Int, Range<Int>) -> Void) {
    let threads = EngineThreads.count, share = (n + threads - 1) / threads
    parallelRanges(threads, minimumPerThread: max(1, 16_384 / max(share * workPerItem, 1))) { ts in
        for t in ts { body(t, min(n, t * share)..<min(n, (t + 1) * share)) }
    }
}

/// The k input rows under output row `row` (b, oy) of NHWC `x`, each zero-padded to the
/// `paddedRowSpan` the windows of that row cover, so window (oy, ox) is the taps
/// `windowOffsets` from ox·stride·C, none of them clipped.
func padInputRows(_ x: UnsafePointer<Float>, _ g: WindowGeometry, outputRow row: Int, into rows: UnsafeMutablePointer<Float>) {
    let span = g.paddedRowSpan, left = g.padding * g.channels
    let b = row / g.outHeight, oy = row % g.outHeight
    let copied = max(0, min(g.rowStride, span - left))
    for ky in 0..<g.kernel {
        let d = rows + ky * span, iy = oy * g.stride - g.padding + ky
        guard iy >= 0, iy < g.height else {
            d.update(repeating: 0, count: span)
            continue
        }
        d.update(repeating: 0, count: left)
        (d + left).update(from: x + b * g.imageSize + iy * g.rowStride, count: copied)
        (d + left + copied).update(repeating: 0, count: span - left - copied)
    }
}

/// y (pixels, columns) = bias + windows (pixels, depth) · w (depth, columns) for a small depth,
/// where tap t of pixel p is `windows[p·pixelStride + taps[t]]`; vectorised over the columns of w,
/// no bias meaning zero. Four pixels at a time share each load of w and keep four independent
/// sums in flight.
func multiplySmallDepth(_ windows: UnsafePointer<Float>, pixelStride: Int, taps: UnsafeBufferPointer<Int>, pixels: Int,
                        _ w: UnsafePointer<Float>, bias: UnsafePointer<Float>?, columns: Int, into y: UnsafeMutablePointer<Float>) {
    let depth = taps.count, tap = taps.baseAddress!
    var p = 0
    while p + 4 <= pixels {
        let c0 = windows + p * pixelStride, c1 = c0 + pixelStride, c2 = c1 + pixelStride, c3 = c2 + pixelStride
        let y0 = y + p * columns, y1 = y0 + columns, y2 = y1 + columns, y3 = y2 + columns
        var j = 0
        while j + 8 <= columns {
            let b = bias.map { load8($0 + j) } ?? .zero
            var s0 = b, s1 = b, s2 = b, s3 = b
            for t in 0..<depth {
                let wt = load8(w + t * columns + j), o = tap[t]
                s0 += c0[o] * wt; s1 += c1[o] * wt; s2 += c2[o] * wt; s3 += c3[o] * wt
            }
            store8(s0, y0 + j); store8(s1, y1 + j); store8(s2, y2 + j); store8(s3, y3 + j)
            j += 8
        }
        for q in 0..<4 { scalarColumns(pixel: p + q, from: j) }
        p += 4
    }
    for p in p..<pixels { scalarColumns(pixel: p, from: 0) }

    /// Output columns `from`..< of one pixel, one at a time (remainders of the vector loops).
    func scalarColumns(pixel: Int, from first: Int) {
        let c = windows + pixel * pixelStride, out = y + pixel * columns
        for k in first..<columns {
            var s = bias?[k] ?? 0
            for t in 0..<depth { s += c[tap[t]] * w[t * columns + k] }
            out[k] = s
        }
    }
}

/// dw (depth, columns) += windowsᵀ · dy (pixels, columns) and, unless nil, db (columns) += the
/// column sums of dy, for a small depth, with windows as in `multiplySmallDepth`. Four pixels at a
/// time, so each partial sum in memory is loaded and stored once per four products.
func accumulateSmallDepthGradient(_ windows: UnsafePointer<Float>, pixelStride: Int, taps: UnsafeBufferPointer<Int>,
                                  _ dy: UnsafePointer<Float>, pixels: Int, columns: Int,
                                  into dw: UnsafeMutablePointer<Float>, biasGradient db: UnsafeMutablePointer<Float>?) {
    let depth = taps.count, tap = taps.baseAddress!
    var p = 0
    while p + 4 <= pixels {
        let c0 = windows + p * pixelStride, c1 = c0 + pixelStride, c2 = c1 + pixelStride, c3 = c2 + pixelStride
        let g0 = dy + p * columns, g1 = g0 + columns, g2 = g1 + columns, g3 = g2 + columns
        var j = 0
        while j + 8 <= columns {
            let d0 = load8(g0 + j), d1 = load8(g1 + j), d2 = load8(g2 + j), d3 = load8(g3 + j)
            if let db { store8(load8(db + j) + ((d0 + d1) + (d2 + d3)), db + j) }
            for t in 0..<depth {
                let s = dw + t * columns + j, o = tap[t]
                store8(load8(s) + ((c0[o] * d0 + c1[o] * d1) + (c2[o] * d2 + c3[o] * d3)), s)
            }
            j += 8
        }
        for k in j..<columns {
            if let db { db[k] += (g0[k] + g1[k]) + (g2[k] + g3[k]) }
            for t in 0..<depth {
                let o = tap[t]
                dw[t * columns + k] += (c0[o] * g0[k] + c1[o] * g1[k]) + (c2[o] * g2[k] + c3[o] * g3[k])
            }
        }
        p += 4
    }
    for p in p..<pixels {
        let c = windows + p * pixelStride, g = dy + p * columns
        for k in 0..<columns {
            if let db { db[k] += g[k] }
            for t in 0..<depth { dw[t * columns + k] += c[tap[t]] * g[k] }
        }
    }
}
