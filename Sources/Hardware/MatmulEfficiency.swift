/// How close to the peak a matrix product runs, by its shape.
///
/// A GEMM of m × k × n does 2mkn FLOPs on (mk + kn + mn) operand elements: its arithmetic
/// intensity I = FLOPs / operand bytes is set by its smallest dimension (for 16-bit operands
/// I = 1/(1/m + 1/k + 1/n)). Large products keep the tensor cores busy; thin ones — a small
/// hidden size, the 1/t slice a tensor-parallel rank multiplies, an attention head's d = h/a —
/// run further from the peak (tile quantisation, too few thread blocks to fill the device,
/// operands that do not stay in cache). The efficiency is the saturating form
///
///     eff(I) = matmul · I / (I + matmulHalfIntensity)
///
/// — the plateau `matmul` for large products, half of it at `matmulHalfIntensity` FLOPs per
/// byte. It is the Michaelis–Menten form the roofline model's knee is usually smoothed with
/// (Williams, Waterman & Patterson 2009 give the sharp knee; the plateau below the peak is what
/// measured GEMM sweeps show, e.g. NVIDIA's "Matrix Multiplication Background User's Guide",
/// 2023, §"Math and Memory Bounds"). The two constants of a profile are fitted to measured
/// training throughput (`autotune calibrate`; the built-in A100 values to Narayanan et al. 2021,
/// Table 1, as `CostModelBenchmark` states).
extension HardwareProfile.Efficiency {
    /// The fraction of the peak FLOP/s a matrix product of arithmetic `intensity` (FLOPs per byte
    /// of operands) reaches: `matmul` when `matmulHalfIntensity` is 0 or the intensity infinite.
    ///
    ///     Efficiency(matmul: 0.8, matmulHalfIntensity: 50).matmul(intensity: 150)   // 0.6
    public func matmul(intensity: Double) -> Double {
        guard matmulHalfIntensity > 0, intensity.isFinite else { return matmul }
        let i = max(intensity, 0)
        return matmul * i / (i + matmulHalfIntensity)
    }
}
