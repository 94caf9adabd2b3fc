import CBLAS
import Dispatch
import Engine
import Foundation

/// The `host` profile: the machine autotune runs on, measured rather than looked up.
///
/// A quick calibration (well under a second on a desktop or server) times OpenBLAS's sgemm for
/// the FP32 peak and a parallel memory copy for the bandwidth, and reads the CPU model, core
/// count and physical memory from the system. Other formats are left out, so the cost model runs
/// them at the FP32 peak (the engine computes every format in FP32 on the CPU).
///
///     let here = HostCalibration.profile          // measured once per process
///     print(here.peakFLOPS(.fp32) / 1e9, "GFLOP/s")
public enum HostCalibration {
    /// The host, measured the first time it is asked for and kept for the rest of the process.
    public static let profile: HardwareProfile = measure()

    /// Measures the host now (about 0.2 s on two cores), without the cache.
    public static func measure() -> HardwareProfile {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let gflops = decimal(max(sgemmPeakGFLOPS(threads: cores, repeats: 3), 0.1), places: 1)
        let bandwidth = decimal(max(copyBandwidthGBs(threads: cores), 0.1), places: 1)
        let memory = decimal(max(physicalMemoryGiB(), 0.01), places: 2)
        let cpu = cpuModel()
        let sources = [
            "Measured on this machine by autotune's host calibration: \(cpu), \(cores) cores",
            "FP32 peak: the best of 3 OpenBLAS sgemm 1024×1024×1024 products on \(cores) threads, "
                + "\(gflops) GFLOP/s; other formats run at this rate",
            "Memory bandwidth: the best of 5 parallel copies of 64 MiB, counting the bytes read and "
                + "written (as STREAM's copy does), \(bandwidth) GB/s",
            "Memory: MemTotal from /proc/meminfo",
            "Efficiency: matmul 0.9 and memory 0.9 because the peaks already are rates OpenBLAS and "
                + "memcpy reach (training's smaller products and strided kernels reach a little less); "
                + "vector 0.3, network 0.8",
            kernelSource,
            "Not measured: power (10 W idle and 10 W + 5 W per core at full load are nominal figures, "
                + "so that energy has a value) and the 1 µs per-op overhead",
        ]
        return HardwareProfile(
            name: ProfileLibrary.hostName, kind: .cpu, sources: sources,
            peakTFLOPS: [.fp32: max(decimal(gflops / 1000, places: 4), 0.0001)], memoryGiB: memory,
            memoryBandwidthGBs: bandwidth,
            efficiency: .init(matmul: 0.9, vector: 0.3, memory: 0.9, network: 0.8),
            launchOverheadMicroseconds: 1,
            power: .init(idle: 10, peak: 10 + 5 * Double(cores)),
            interconnect: .init(devicesPerNode: 1, intraNode: nil, interNode: nil, hostLink: nil, hostMemoryGiB: 0))
    }

    /// Which instruction set the engine's C kernels (the int8 GEMM) run in here, and which sets
    /// this CPU lacks.
    public static var kernelSource: String {
        let missing = KernelSet.allCases.filter { !$0.isSupported }.map(\.name)
        return "Kernels: the engine's C kernels (int8 GEMM) run the \(KernelSet.selected.name) set, chosen by CPUID"
            + (missing.isEmpty ? "" : "; this CPU lacks \(missing.joined(separator: ", "))")
    }

    /// `value` to `places` decimals, as the nearest double to that decimal (so it prints short).
    private static func decimal(_ value: Double, places: Int) -> Double {
        Double(String(format: "%.\(places)f", value)) ?? value
    }

    /// The `model name` line of /proc/cpuinfo (`Model` on a Raspberry Pi), or "unknown CPU".
    static func cpuModel() -> String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown CPU" }
        for key in ["model name", "Model", "Hardware"] {
            for line in text.split(separator: "\n") where line.hasPrefix(key) {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2 { return parts[1].trimmingCharacters(in: .whitespaces) }
            }
        }
        return "unknown CPU"
    }

    /// Physical memory in GiB: MemTotal from /proc/meminfo, else what Foundation reports.
    static func physicalMemoryGiB() -> Double {
        if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }),
           let kibibytes = Double(line.split(separator: " ").dropFirst().first ?? "") {
            return kibibytes / 1_048_576
        }
        return Double(ProcessInfo.processInfo.physicalMemory) / 1_073_741_824
    }
}

/// The machine's single-precision GEMM peak as OpenBLAS reaches it, in GFLOP/s: the yardstick
/// the engine's achieved rate is read against, and the `host` profile's FP32 peak.
///
/// Times `repeats` products of two `size`×`size` matrices after one warm-up and keeps the best;
/// leaves the engine's thread count at `threads`.
/// - Parameters:
///   - threads: OpenBLAS (and engine) threads.
///   - size: the matrices' order; 1024 is large enough for OpenBLAS to reach its peak.
///   - repeats: timed products.
/// - Returns: 2·size³ / best seconds / 10⁹.
public func sgemmPeakGFLOPS(threads: Int, size n: Int = 1024, repeats: Int = 5) -> Double {
    // OpenBLAS's own threads for this product; the engine holds it to one thread otherwise.
    EngineThreads.set(threads)
    openblas_set_num_threads(Int32(max(1, threads)))
    defer { EngineThreads.set(threads) }
    let a = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
    let b = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
    let c = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
    defer { a.deallocate(); b.deallocate(); c.deallocate() }
    var rng = RandomSource(seed: 1)
    for i in 0..<n * n { a[i] = rng.nextFloat() - 0.5; b[i] = rng.nextFloat() - 0.5; c[i] = 0 }
    func run() {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a, Int32(n), b, Int32(n), 0, c, Int32(n))
    }
    run()
    var best = 0.0
    for _ in 0..<repeats {
        let t0 = DispatchTime.now().uptimeNanoseconds
        run()
        let s = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        best = max(best, 2 * Double(n) * Double(n) * Double(n) / s / 1e9)
    }
    return best
}

/// Streaming memory bandwidth in GB/s: the best of `repeats` copies of `bytes`, split over
/// `threads` threads, counting the bytes read plus the bytes written (STREAM's copy convention,
/// McCalpin 1995).
/// - Parameters:
///   - bytes: the size of the copy; 64 MiB is far larger than any last-level cache.
///   - threads: threads copying disjoint slices at once (one core rarely saturates memory).
///   - repeats: timed copies after one warm-up.
public func copyBandwidthGBs(bytes: Int = 64 << 20, threads: Int, repeats: Int = 5) -> Double {
    let threads = max(1, threads)
    let source = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
    let target = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
    defer { source.deallocate(); target.deallocate() }
    memset(source, 1, bytes)
    memset(target, 0, bytes)   // touch every page before timing
    let slice = (bytes / threads + 63) / 64 * 64
    func copy() {
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let lo = min(bytes, t * slice), hi = min(bytes, lo + slice)
            if lo < hi { memcpy(target + lo, source + lo, hi - lo) }
        }
    }
    copy()
    var best = 0.0
    for _ in 0..<repeats {
        let t0 = DispatchTime.now().uptimeNanoseconds
        copy()
        let s = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        best = max(best, 2 * Double(bytes) / s / 1e9)
    }
    return best
}
