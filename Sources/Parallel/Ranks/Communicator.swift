import Foundation
import Engine

/// R simulated ranks in one process: each runs on its own thread, and collectives move numbers
/// between their buffers.
///
/// Every rank gets a `Rank` handle that runs the NCCL collectives (all-reduce, reduce-scatter,
/// all-gather, broadcast) and point-to-point send/receive. Each call records a `CollectiveEvent`
/// in that rank's execution context, with the payload the cost model prices (the whole tensor for
/// an all-reduce, the full gathered tensor for an all-gather or a reduce-scatter, the message for
/// a send), and the communicator counts the bytes each rank actually hands to the others.
///
///     let comm = Communicator(size: 4, group: "data")
///     let sums = comm.run(contexts) { rank in
///         rank.allReduce(gradients.data, count: gradients.count, .mean, name: "gradients")
///     }
///     comm.bytesSent(by: 0)     // 2(n − 1)/n × payload, as nccl-tests' bus bandwidth assumes
///
/// Data moves with the ring algorithm's volume: in a reduce-scatter every rank receives its chunk
/// from each of the n − 1 others and sends each of them theirs, (n − 1)/n of the buffer; an
/// all-gather likewise; an all-reduce is the two in turn. Each chunk is summed by its owner in
/// rank order, so every rank ends with bit-identical sums whatever the thread timing (a ring would
/// start each chunk's sum at a different rank). The ranks meet at a condition-variable barrier and
/// each owns a real thread, so any number of ranks runs on any number of cores without deadlock.
public final class Communicator: @unchecked Sendable {
    /// Ranks in the group.
    public let size: Int
    /// The name collective events carry in their `RankGroup` ("data", "tensor", "pipeline").
    public let group: String
    let barrier: Barrier
    /// The buffer each rank contributes to the collective under way, one slot per rank.
    let posted: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>
    /// traffic[src · size + dst]: bytes rank src has sent to rank dst.
    private let traffic: UnsafeMutablePointer<Double>
    private let trafficLock = NSLock()
    /// mailboxes[src · size + dst]: messages sent and not yet received.
    let mailboxes: [Mailbox]

    /// - Parameters:
    ///   - size: the number of ranks, at least 1.
    ///   - group: the group name recorded with every collective.
    public init(size: Int, group: String = "world") {
        precondition(size >= 1, "a communicator needs at least one rank, got \(size)")
        self.size = size
        self.group = group
        barrier = Barrier(parties: size)
        posted = .allocate(capacity: size)
        posted.initialize(repeating: nil, count: size)
        traffic = .allocate(capacity: size * size)
        traffic.initialize(repeating: 0, count: size * size)
        mailboxes = (0 ..< size * size).map { _ in Mailbox() }
    }

    deinit {
        posted.deallocate()
        traffic.deallocate()
    }

    /// Run `body` once per rank, each on its own thread, and return the results in rank order.
    /// - Parameters:
    ///   - contexts: one execution context per rank (collectives are recorded there).
    ///   - body: one rank's work; it may call collectives, which every rank must call in the same order.
    public func run<T>(_ contexts: [ExecutionContext], _ body: (Rank) -> T) -> [T] {
        precondition(contexts.count == size, "\(contexts.count) contexts for \(size) ranks")
        return Communicator.launch(size) { r in body(rank(r, context: contexts[r])) }
    }

    /// Rank `index`'s handle on this group, recording into `context`. A thread that belongs to
    /// several groups (a data-parallel and a pipeline group, say) holds one handle on each.
    public func rank(_ index: Int, context: ExecutionContext) -> Rank {
        precondition((0 ..< size).contains(index), "rank \(index) outside a group of \(size)")
        return Rank(index: index, communicator: self, context: context)
    }

    /// Run `body(i)` for i in 0..<count, each on its own thread (so ranks that wait on one another
    /// never wait for a free core), and return the results in order.
    public static func launch<T>(_ count: Int, _ body: (Int) -> T) -> [T] {
        let results = ResultSlots<T>(count: count)
        let done = DispatchSemaphore(value: 0)
        withoutActuallyEscaping(body) { body in
            // The threads hold the box, not the closure: a finished thread may outlive this call
            // for a moment, and the closure must not (it is only borrowed).
            let work = UncheckedBox<((Int) -> T)?>(body)
            for r in 0 ..< count {
                let thread = Thread {
                    results.set(r, work.value!(r))
                    done.signal()
                }
                thread.stackSize = 8 << 20
                thread.start()
            }
            for _ in 0 ..< count { done.wait() }
            work.value = nil
        }
        return results.values()
    }

    /// Bytes `rank` has sent to all other ranks so far.
    public func bytesSent(by rank: Int) -> Double {
        trafficLock.lock(); defer { trafficLock.unlock() }
        return (0 ..< size).reduce(0) { $0 + traffic[rank * size + $1] }
    }

    /// Bytes rank `source` has sent to rank `destination` so far.
    public func bytesSent(from source: Int, to destination: Int) -> Double {
        trafficLock.lock(); defer { trafficLock.unlock() }
        return traffic[source * size + destination]
    }

    /// Count `elements` floats moved from `source` to `destination`.
    func count(_ elements: Int, from source: Int, to destination: Int) {
        guard source != destination, elements > 0 else { return }
        trafficLock.lock()
        traffic[source * size + destination] += Double(elements * MemoryLayout<Float>.size)
        trafficLock.unlock()
    }

    /// The chunk of a `count`-element buffer that `rank` reduces or owns: contiguous, sizes differ
    /// by at most one element.
    public func chunk(_ rank: Int, of count: Int) -> Range<Int> {
        let base = count / size, extra = count % size
        let lo = rank * base + min(rank, extra)
        return lo ..< lo + base + (rank < extra ? 1 : 0)
    }
}

/// How a reducing collective combines the ranks' values.
public enum ReduceOperation: Sendable {
    /// Σ over ranks, in rank order.
    case sum
    /// Σ over ranks in rank order, divided by the number of ranks.
    case mean
}

/// A barrier for a fixed number of threads, reusable: the last thread to arrive releases the
/// others. It waits on a condition variable, so it needs no thread pool of any width.
final class Barrier: @unchecked Sendable {
    private let parties: Int
    private var waiting = 0
    private var generation = 0
    private let condition = NSCondition()

    init(parties: Int) { self.parties = parties }

    func wait() {
        condition.lock()
        let arrivedIn = generation
        waiting += 1
        if waiting == parties {
            waiting = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == arrivedIn { condition.wait() }
        }
        condition.unlock()
    }
}

/// One message between two ranks: the values, their shape and a tag the receiver checks.
struct Message {
    var values: [Float]
    var shape: [Int]
    var tag: Int
}

/// Messages from one rank to another, first in first out; a send never waits for the receiver.
final class Mailbox: @unchecked Sendable {
    private var queue: [Message] = []
    private let condition = NSCondition()

    func put(_ message: Message) {
        condition.lock()
        queue.append(message)
        condition.signal()
        condition.unlock()
    }

    func take() -> Message {
        condition.lock()
        while queue.isEmpty { condition.wait() }
        let message = queue.removeFirst()
        condition.unlock()
        return message
    }
}

/// A value handed to other threads by a caller that guarantees they finish before it returns.
final class UncheckedBox<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}

/// One result slot per rank, each written by its own thread.
final class ResultSlots<T>: @unchecked Sendable {
    private let slots: UnsafeMutablePointer<T?>
    private let count: Int

    init(count: Int) {
        self.count = count
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil, count: count)
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    func set(_ index: Int, _ value: T) { slots[index] = value }

    func values() -> [T] {
        (0 ..< count).map { i in
            guard let v = slots[i] else { preconditionFailure("rank \(i) returned no result") }
            return v
        }
    }
}
