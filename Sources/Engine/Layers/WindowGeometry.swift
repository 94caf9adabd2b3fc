/// The arithmetic of a square window sliding over a batch of NHWC images (convolution, pooling).
struct WindowGeometry {
    let batch, height, width, channels: Int
    let kernel, stride, padding: Int
    let outHeight, outWidth: Int

    /// The geometry of `shape` (B, H, W, C), with C checked against `channels` unless nil; a
    /// precondition failure naming `layer` when it does not fit (models validate shapes with
    /// `outputShape(for:)` when they are built).
    init(_ layer: String, _ shape: [Int], channels: Int?, kernel: Int, stride: Int, padding: Int = 0) {
        precondition(shape.count == 4, "\(layer): expects (batch, height, width, channels), got \(shape)")
        let size: (Int, Int)
        do {
            size = try windowOutputSize(layer, input: Array(shape.dropFirst()), channels: channels,
                                        kernel: kernel, stride: stride, padding: padding)
        } catch {
            preconditionFailure("\(error)")
        }
        batch = shape[0]; height = shape[1]; width = shape[2]; self.channels = shape[3]
        self.kernel = kernel; self.stride = stride; self.padding = padding
        outHeight = size.0; outWidth = size.1
    }

    /// Output pixels over the batch: the rows of the im2col matrix.
    var outputPixels: Int { batch * outHeight * outWidth }
    /// Floats in one image row and in one image.
    var rowStride: Int { width * channels }
    var imageSize: Int { height * width * channels }

    /// Floats of a padded input row under one row of windows: ((Wo − 1)·stride + k)·C.
    var paddedRowSpan: Int { ((outWidth - 1) * stride + kernel) * channels }
    /// Where tap (ky, kx, c) of a window sits in `kernel` stacked padded rows of `paddedRowSpan`.
    var windowOffsets: [Int] {
        (0..<kernel).flatMap { ky in (0..<(kernel * channels)).map { ky * paddedRowSpan + $0 } }
    }

    /// Window columns kx in lo..<hi (possibly empty) that fall inside the image at output column `ox`.
    @inline(__always)
    func validColumns(_ ox: Int) -> (lo: Int, hi: Int) {
        let ix0 = ox * stride - padding
        let lo = min(kernel, max(0, -ix0))
        return (lo, max(lo, min(kernel, width - ix0)))
    }
}

/// Output (height, width) of a square window over a per-sample [H, W, C] input, or a `ShapeError`
/// naming `layer` when the channels differ or the window does not fit the padded input.
func windowOutputSize(_ layer: String, input: [Int], channels: Int?, kernel: Int, stride: Int,
                      padding: Int) throws -> (Int, Int) {
    guard input.count == 3 else {
        throw ShapeError(layer, "expects a [height, width, channels] input, got \(input)")
    }
    if let channels, input[2] != channels {
        throw ShapeError(layer, "expects \(channels) input channels, got \(input[2]) in \(input)")
    }
    let (h, w) = (input[0] + 2 * padding, input[1] + 2 * padding)
    guard input[0] > 0, input[1] > 0, h >= kernel, w >= kernel else {
        throw ShapeError(layer, "a \(kernel)×\(kernel) window does not fit input \(input) with padding \(padding)")
    }
    return ((h - kernel) / stride + 1, (w - kernel) / stride + 1)
}

/// Unfold the images `samples` of NHWC `x` into the column matrix (samples·Ho·Wo, k·k·C): row
/// (b, oy, ox) holds the window at that output pixel in (ky, kx, c) order, zeros where it overhangs
/// the image. For each ky the window is one contiguous run of k·C floats of the input row, clipped
/// at the borders.
func im2col(_ x: UnsafePointer<Float>, _ g: WindowGeometry, samples: Range<Int>, into col: UnsafeMutablePointer<Float>) {
    let k = g.kernel, run = k * g.channels, depth = k * run
    parallelRanges(samples.count * g.outHeight * g.outWidth, minimumPerThread: max(1, 16_384 / depth)) { range in
        var ox = range.lowerBound % g.outWidth
        var oy = range.lowerBound / g.outWidth % g.outHeight
        var b = samples.lowerBound + range.lowerBound / (g.outWidth * g.outHeight)
        for r in range {
            let dst = col + r * depth
            let (lo, hi) = g.validColumns(ox)
            let first = lo * g.channels, last = hi * g.channels
            for ky in 0..<k {
                let d = dst + ky * run
                let iy = oy * g.stride - g.padding + ky
                guard iy >= 0, iy < g.height else {
                    for i in 0..<run { d[i] = 0 }
                    continue
                }
                let base = b * g.imageSize + iy * g.rowStride + (ox * g.stride - g.padding) * g.channels
                for i in 0..<first { d[i] = 0 }
                for i in first..<last { d[i] = x[base + i] }
                for i in last..<run { d[i] = 0 }
            }
            ox += 1
            if ox == g.outWidth {
                ox = 0; oy += 1
                if oy == g.outHeight { oy = 0; b += 1 }
            }
        }
    }
}

/// Fold the column-matrix gradient of the images `samples` back onto NHWC `dx` (those images
/// overwritten), summing where windows overlap. Parallel over samples, so no two threads write the
/// same pixel.
func col2im(_ col: UnsafePointer<Float>, _ g: WindowGeometry, samples: Range<Int>, into dx: UnsafeMutablePointer<Float>) {
    let k = g.kernel, run = k * g.channels, depth = k * run
    let perSample = g.outHeight * g.outWidth
    parallelRanges(samples.count, minimumPerThread: max(1, 16_384 / max(perSample * depth, 1))) { chunk in
        for s in chunk {
            let image = dx + (samples.lowerBound + s) * g.imageSize
            image.update(repeating: 0, count: g.imageSize)
            for oy in 0..<g.outHeight {
                for ox in 0..<g.outWidth {
                    let src = col + ((s * g.outHeight + oy) * g.outWidth + ox) * depth
                    let (lo, hi) = g.validColumns(ox)
                    let first = lo * g.channels, last = hi * g.channels
                    for ky in 0..<k {
                        let iy = oy * g.stride - g.padding + ky
                        guard iy >= 0, iy < g.height else { continue }
                        let base = iy * g.rowStride + (ox * g.stride - g.padding) * g.channels
                        let s = src + ky * run
                        for i in first..<last { image[base + i] += s[i] }
                    }
                }
            }
        }
    }
}
