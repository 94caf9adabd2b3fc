import CKernels

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
/// where tap t of pixel p is `windows[p·pixelStride + taps[t]]`, no bias meaning zero. Runs in the
/// C kernel of `kernels` (`at_f32_small_depth_multiply`): vectorised over the columns of w, four
/// pixels sharing each load of w; every set gives the same bits.
func multiplySmallDepth(_ windows: UnsafePointer<Float>, pixelStride: Int, taps: UnsafeBufferPointer<Int>, pixels: Int,
                        _ w: UnsafePointer<Float>, bias: UnsafePointer<Float>?, columns: Int, into y: UnsafeMutablePointer<Float>,
                        kernels: KernelSet = .selected) {
    at_f32_small_depth_multiply(Int32(kernels.rawValue), windows, pixelStride, taps.baseAddress!, Int32(taps.count),
                                Int32(pixels), w, bias, Int32(columns), y)
}

/// dw (depth, columns) += windowsᵀ · dy (pixels, columns) and, unless nil, db (columns) += the
/// column sums of dy, for a small depth, with windows as in `multiplySmallDepth`. Four pixels at a
/// time, so each partial sum in memory is loaded and stored once per four products
/// (`at_f32_small_depth_gradient`).
func accumulateSmallDepthGradient(_ windows: UnsafePointer<Float>, pixelStride: Int, taps: UnsafeBufferPointer<Int>,
                                  _ dy: UnsafePointer<Float>, pixels: Int, columns: Int,
                                  into dw: UnsafeMutablePointer<Float>, biasGradient db: UnsafeMutablePointer<Float>?,
                                  kernels: KernelSet = .selected) {
    at_f32_small_depth_gradient(Int32(kernels.rawValue), windows, pixelStride, taps.baseAddress!, Int32(taps.count),
                                dy, Int32(pixels), Int32(columns), dw, db)
}
