import Engine

/// The engine's weight layouts as the channels-first ones of ONNX and PyTorch: one place for the
/// conversions both exporters write.
///
/// The engine holds images NHWC, so a convolution's filter is (k, k, cin, cout) and a depthwise
/// filter (k, k, C); ONNX's Conv and PyTorch's `nn.Conv2d` take OIHW filters, (cout, cin, k, k)
/// and (C, 1, k, k) for a grouped (depthwise) one.
///
///     convolutionOIHW(conv.weight.value.array, kernel: 3, inChannels: 1, outChannels: 8)   // (8, 1, 3, 3)
func convolutionOIHW(_ hwio: [Float], kernel k: Int, inChannels cin: Int, outChannels cout: Int) -> [Float] {
    precondition(hwio.count == k * k * cin * cout, "\(hwio.count) values for a \(k)×\(k) filter of \(cin) → \(cout) channels")
    var oihw = [Float](repeating: 0, count: hwio.count)
    for o in 0..<cout { for i in 0..<cin { for ky in 0..<k { for kx in 0..<k {
        oihw[((o * cin + i) * k + ky) * k + kx] = hwio[((ky * k + kx) * cin + i) * cout + o]
    } } } }
    return oihw
}

/// A depthwise filter, the engine's (k, k, C), as (C, 1, k, k).
func depthwiseOIHW(_ hwc: [Float], kernel k: Int, channels c: Int) -> [Float] {
    precondition(hwc.count == k * k * c, "\(hwc.count) values for a \(k)×\(k) depthwise filter of \(c) channels")
    var weight = [Float](repeating: 0, count: hwc.count)
    for ch in 0..<c { for ky in 0..<k { for kx in 0..<k { weight[(ch * k + ky) * k + kx] = hwc[(ky * k + kx) * c + ch] } } }
    return weight
}

/// A row-major (rows, columns) matrix as (columns, rows).
func transposed(_ m: [Float], rows: Int, columns: Int) -> [Float] {
    var t = [Float](repeating: 0, count: m.count)
    for r in 0..<rows { for c in 0..<columns { t[c * rows + r] = m[r * columns + c] } }
    return t
}

/// A batch norm's running mean and variance for inference: 0 and 1 before any forward, as the
/// engine starts them.
func runningStatistics(_ bn: BatchNorm) -> (mean: [Float], variance: [Float]) {
    (bn.runningMean?.array ?? [Float](repeating: 0, count: bn.channels),
     bn.runningVariance?.array ?? [Float](repeating: 1, count: bn.channels))
}
