import CBLAS

/// Eight floats from (possibly unaligned) memory.
@inline(__always)
func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }

@inline(__always)
func load8(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }

/// Store eight floats to (possibly unaligned) memory.
@inline(__always)
func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self) }

/// Lane-wise square root as one vector instruction (see the CBLAS shim: `SIMD8.squareRoot()`
/// falls back to eight scalar libm calls on Linux).
@inline(__always)
func squareRoot8(_ v: SIMD8<Float>) -> SIMD8<Float> { autotune_sqrt8(v) }
