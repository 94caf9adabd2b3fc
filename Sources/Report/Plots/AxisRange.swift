import Foundation

/// How the objective axes of a plot are scaled: chosen from the data (`automatic`), or forced
/// with `--linear` or `--log`.
public enum AxisScale: String, CaseIterable, Sendable {
    case automatic, linear, log
}

/// One axis of a scatter: the range the points it is given set (padded a little so no point
/// sits on the border), and whether it is logarithmic.
///
/// Logarithmic only when every value is positive and either `--log` asked for it or the bulk of
/// the values (the 10th to the 90th percentile) spans more than three decades; linear otherwise,
/// so a front's shape reads as it is (DTLZ2's spherical front is unrecognisable on log axes, and
/// a few of its values near 0 must not make it so).
///
///     AxisRange([0.001, 5], scale: .automatic).log   // true: 5000× apart
///     AxisRange([0, 1], scale: .log).log             // false: 0 has no logarithm
public struct AxisRange: Equatable, Sendable {
    public var low: Double
    public var high: Double
    public var log: Bool

    /// The fraction of the span added at each end.
    static let padding = 0.04

    public init(_ values: [Double], scale: AxisScale) {
        let finite = values.filter(\.isFinite)
        let lo = finite.min() ?? 0, hi = finite.max() ?? 1
        let positive = lo > 0
        switch scale {
        case .linear: log = false
        case .log: log = positive
        case .automatic: log = positive && Self.decades(finite) > 3
        }
        if log {
            let a = Foundation.log10(lo), b = Foundation.log10(hi)
            let pad = b > a ? (b - a) * Self.padding : 0.5
            low = pow(10, a - pad); high = pow(10, b + pad)
        } else {
            let pad = hi > lo ? (hi - lo) * Self.padding : (lo != 0 ? abs(lo) * 0.1 : 1)
            low = lo - pad; high = hi + pad
        }
    }

    /// How many decades the 10th to the 90th percentile of positive `values` span.
    static func decades(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard let first = sorted.first, first > 0 else { return 0 }
        func percentile(_ p: Double) -> Double { sorted[Int((p * Double(sorted.count - 1)).rounded())] }
        return Foundation.log10(percentile(0.9) / percentile(0.1))
    }

    /// `value` moved onto the nearest edge of the range when it lies outside, and whether it was.
    public func clip(_ value: Double) -> (value: Double, clipped: Bool) {
        if value < low { return (low, true) }
        if value > high { return (high, true) }
        return (value, false)
    }

    /// Where `value` lies along the axis as drawn: 0 at the low end, 1 at the high end.
    public func fraction(_ value: Double) -> Double {
        if log {
            let a = Foundation.log10(low), b = Foundation.log10(high)
            return b > a ? (Foundation.log10(max(value, low)) - a) / (b - a) : 0.5
        }
        return high > low ? (value - low) / (high - low) : 0.5
    }

    /// Where a logarithmic axis gets labelled tics: 1, 2 and 5 times each power of ten inside the
    /// range; only the powers of ten when that gives more than eight, every integer multiple when
    /// fewer than three (gnuplot alone labels only the powers of ten, so a range within one
    /// decade gets none at all). Empty on a linear axis.
    ///
    ///     AxisRange([1.5, 4.5], scale: .log).logTics   // [2, 3, 4]
    public var logTics: [Double] {
        guard log, low > 0, high > low else { return [] }
        func tics(_ mantissas: [Double]) -> [Double] {
            let first = Int(Foundation.log10(low).rounded(.down)), last = Int(Foundation.log10(high).rounded(.up))
            return (first ... last).flatMap { k in mantissas.map { $0 * pow(10, Double(k)) } }.filter { $0 >= low && $0 <= high }
        }
        let coarse = tics([1, 2, 5])
        if coarse.count > 8 { return tics([1]) }
        return coarse.count >= 3 ? coarse : tics((1 ... 9).map(Double.init))
    }

    /// The axis label with " (log scale)" when logarithmic.
    public func label(_ text: String) -> String { log ? "\(text) (log scale)" : text }
}
