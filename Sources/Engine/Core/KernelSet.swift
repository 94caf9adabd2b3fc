import CKernels

/// The instruction set the engine's C kernels run in, chosen once from CPUID.
///
/// Each kernel of the `CKernels` target is compiled for every set with per-function target
/// attributes; `best` is the fastest one this CPU and its operating system run, and `selected`
/// (initially `best`) is the one layers use unless told otherwise. All sets give bit-identical
/// results, so the choice changes speed, never numbers.
///
///     KernelSet.best.name                     // "avx2" on a machine without AVX-512
///     KernelSet.allCases.filter(\.isSupported) // the sets a test can force here
public enum KernelSet: Int, CaseIterable, Sendable, Codable {
    case portable = 0
    case avx2 = 1
    case avx512bw = 2
    case avx512vnni = 3

    /// The name `hardware show host` prints: `portable`, `avx2`, `avx512bw`, `avx512vnni`.
    public var name: String {
        switch self {
        case .portable: return "portable"
        case .avx2: return "avx2"
        case .avx512bw: return "avx512bw"
        case .avx512vnni: return "avx512vnni"
        }
    }

    /// Whether this CPU and its operating system run the set.
    public var isSupported: Bool { at_kernel_set_supported(Int32(rawValue)) != 0 }

    /// The fastest set this machine runs.
    public static let best = KernelSet(rawValue: Int(at_kernel_set_best())) ?? .portable

    nonisolated(unsafe) private static var choice = best

    /// The set the kernels run in by default; `best` unless set (to a supported set) beforehand,
    /// as a benchmark comparing sets does. Set it outside parallel regions.
    public static var selected: KernelSet {
        get { choice }
        set {
            precondition(newValue.isSupported, "kernel set \(newValue.name) is not supported by this CPU")
            choice = newValue
        }
    }
}
