/// A contiguous, row-major Float32 tensor whose memory is reported to an execution context.
///
/// In meta mode a tensor has a shape and no storage. Views (into a model's flat parameter buffer)
/// do not own their memory and report nothing.
///
///     let t = Tensor(shape: [2, 3], context: ctx)
///     t.data[4] = 1           // row 1, column 1
public final class Tensor {
    public private(set) var shape: [Int]
    public private(set) var count: Int
    /// Elements the storage can hold (≥ count); reshape within it never allocates.
    public let capacity: Int
    /// The dtype this tensor stands for in accounting.
    public let dtype: DType
    public let context: ExecutionContext
    private let storage: UnsafeMutablePointer<Float>?
    private let owns: Bool
    /// What a view's memory belongs to, kept alive as long as the view.
    private let viewed: Tensor?

    /// A zero-filled tensor (real mode) or a shape-only tensor (meta mode).
    public init(shape: [Int], context: ExecutionContext, dtype: DType = .fp32) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.count = shapeCount(shape)
        self.capacity = count
        self.dtype = dtype
        self.context = context
        self.owns = true
        self.viewed = nil
        if context.isMeta {
            storage = nil
        } else {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
            p.initialize(repeating: 0, count: max(count, 1))
            storage = p
        }
        context.allocate(bytes: Double(count) * dtype.bytes)
    }

    /// A real tensor holding `values`.
    public convenience init(_ values: [Float], shape: [Int], context: ExecutionContext) {
        precondition(values.count == shapeCount(shape), "\(values.count) values for shape \(shape)")
        self.init(shape: shape, context: context)
        if !context.isMeta { values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: values.count) } }
    }

    /// A non-owning view of `count(shape)` floats at `pointer` inside `base` (nil in meta mode),
    /// which the view keeps alive.
    init(view pointer: UnsafeMutablePointer<Float>?, of base: Tensor, shape: [Int], dtype: DType = .fp32) {
        let context = base.context
        self.shape = shape
        self.count = shapeCount(shape)
        self.capacity = count
        self.dtype = dtype
        self.context = context
        self.storage = pointer
        self.owns = false
        self.viewed = base
    }

    deinit {
        guard owns else { return }
        storage?.deallocate()
        context.free(bytes: Double(capacity) * dtype.bytes)
    }

    /// The numbers. Only in real mode.
    @inline(__always)
    public var data: UnsafeMutablePointer<Float> {
        guard let s = storage else { preconditionFailure("meta tensor \(shape) has no data") }
        return s
    }

    /// Bytes this tensor stands for at its dtype.
    public var bytes: Double { Double(count) * dtype.bytes }

    /// Change the shape without moving data; the new element count must fit the capacity.
    public func reshape(_ newShape: [Int]) {
        let n = shapeCount(newShape)
        precondition(n <= capacity, "reshape to \(newShape) exceeds capacity \(capacity)")
        shape = newShape
        count = n
    }

    /// Leading dimension (batch) and the product of the rest.
    public var rows: Int { shape.first ?? 1 }
    public var rowSize: Int { shape.isEmpty ? 1 : count / max(shape[0], 1) }

    public func fill(_ value: Float) {
        guard !context.isMeta else { return }
        data.update(repeating: value, count: count)
    }

    public func copy(from other: Tensor) {
        precondition(other.count == count, "copy of \(other.shape) into \(shape)")
        guard !context.isMeta else { return }
        data.update(from: other.data, count: count)
    }

    /// The values as an array (tests and reports).
    public var array: [Float] {
        guard let s = storage else { return [] }
        return Array(UnsafeBufferPointer(start: s, count: count))
    }
}
