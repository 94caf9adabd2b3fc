import Engine

/// Devices of one profile, `nodes` nodes of `devicesPerNode` each.
///
///     let cluster = try Cluster(profile: a100, nodes: 128, devicesPerNode: 8)   // 1,024 GPUs
public struct Cluster: Sendable, Equatable {
    public let profile: HardwareProfile
    public let nodes: Int
    public let devicesPerNode: Int

    /// Throws when the counts are not positive or a node holds more devices than the profile's
    /// nodes do.
    public init(profile: HardwareProfile, nodes: Int = 1, devicesPerNode: Int? = nil) throws {
        let perNode = devicesPerNode ?? profile.interconnect.devicesPerNode
        guard nodes >= 1 else { throw ConfigError(keyPath: "nodes", reason: "must be at least 1, got \(nodes)") }
        guard nodes <= Self.maxNodes else {
            throw ConfigError(keyPath: "nodes", reason: "\(nodes) nodes is more than any cluster has (at most \(Self.maxNodes))")
        }
        guard perNode >= 1 else { throw ConfigError(keyPath: "gpus_per_node", reason: "must be at least 1, got \(perNode)") }
        guard perNode <= profile.interconnect.devicesPerNode else {
            throw ConfigError(keyPath: "gpus_per_node",
                              reason: "\(perNode) devices per node, but a \(profile.name) node holds at most \(profile.interconnect.devicesPerNode)")
        }
        guard nodes == 1 || profile.interconnect.interNode != nil else {
            throw ConfigError(keyPath: "nodes", reason: "\(profile.name) has no inter-node link; use 1 node")
        }
        self.profile = profile
        self.nodes = nodes
        self.devicesPerNode = perNode
    }

    /// The most nodes a cluster may have (the largest machines have tens of thousands).
    public static let maxNodes = 1_000_000

    /// Every device of the cluster.
    public var devices: Int { nodes * devicesPerNode }

    /// Whether `group` (its first rank node-aligned) reaches beyond one node.
    public func spansNodes(_ group: RankGroup) -> Bool {
        (group.size - 1) * group.stride + 1 > devicesPerNode
    }

    /// The slowest link `group` crosses: the inter-node link once it spans nodes (never faster than
    /// the intra-node link), else the intra-node link. Nil when the profile has no such link.
    public func link(spannedBy group: RankGroup) -> HardwareProfile.Link? {
        let ic = profile.interconnect
        if spansNodes(group) {
            guard let inter = ic.interNode else { return nil }
            if let intra = ic.intraNode, intra.bandwidthGBs < inter.bandwidthGBs {
                return HardwareProfile.Link(kind: intra.kind, bandwidthGBs: intra.bandwidthGBs,
                                            latencyMicroseconds: max(intra.latencyMicroseconds, inter.latencyMicroseconds))
            }
            return inter
        }
        return ic.intraNode ?? ic.hostLink
    }
}
