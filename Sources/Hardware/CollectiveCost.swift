import Engine

/// The time of a collective over a group of devices, by the ring algorithm NCCL uses for large
/// messages and the bus-bandwidth conventions of nccl-tests (PERFORMANCE.md):
///
///     all-reduce      t = α·2(n − 1) + S/B · 2(n − 1)/n
///     reduce-scatter  t = α·(n − 1)  + S/B · (n − 1)/n
///     all-gather      t = α·(n − 1)  + S/B · (n − 1)/n
///     broadcast       t = α·(n − 1)  + S/B
///     send/recv       t = α          + S/B
///     all-to-all      t = α·(n − 1)  + S/B · (n − 1)/n
///
/// with S the payload per rank in bytes, n ranks, B the bandwidth per device and direction of the
/// slowest link the group spans (times the profile's network efficiency) and α that link's latency.
/// A group whose members sit on one node runs over the intra-node link (NVLink, PCIe); one that
/// spans nodes is limited by the inter-node link (InfiniBand).
public struct CollectiveCost: Sendable {
    public let cluster: Cluster

    public init(cluster: Cluster) { self.cluster = cluster }

    /// nccl-tests' factor from algorithm bandwidth (S/t) to bus bandwidth for `kind` over `n` ranks.
    public static func busBandwidthFactor(_ kind: CollectiveKind, ranks n: Int) -> Double {
        let n = Double(max(n, 1))
        switch kind {
        case .allReduce: return 2 * (n - 1) / n
        case .reduceScatter, .allGather, .allToAll: return (n - 1) / n
        case .broadcast, .sendRecv: return 1
        }
    }

    /// Latency steps of the ring algorithm for `kind` over `n` ranks.
    static func latencySteps(_ kind: CollectiveKind, ranks n: Int) -> Double {
        let n = Double(max(n, 1))
        switch kind {
        case .allReduce: return 2 * (n - 1)
        case .reduceScatter, .allGather, .broadcast, .allToAll: return n - 1
        case .sendRecv: return 1
        }
    }

    /// Seconds one run of `event` takes (not times its count); 0 for a group of one rank.
    public func seconds(_ event: CollectiveEvent) -> Double {
        guard event.group.size > 1 || event.kind == .sendRecv else { return 0 }
        guard let link = cluster.link(spannedBy: event.group) else { return .infinity }
        let bandwidth = link.bandwidthGBs * 1e9 * cluster.profile.efficiency.network
        let n = event.group.size
        return Self.latencySteps(event.kind, ranks: n) * link.latencyMicroseconds * 1e-6
            + event.bytes / bandwidth * Self.busBandwidthFactor(event.kind, ranks: n)
    }

    /// Σ seconds × count over `events`.
    public func seconds(_ events: [CollectiveEvent]) -> Double {
        events.reduce(0) { $0 + seconds($1) * $1.count }
    }

    /// Bytes each rank sends for `event` (one run): the bus-bandwidth factor times the payload.
    public static func bytesSent(_ event: CollectiveEvent) -> Double {
        event.bytes * busBandwidthFactor(event.kind, ranks: event.group.size)
    }
}
