import Foundation
import XCTest

/// A Linux network namespace joined to this one by a veth pair, so a test can run a process on
/// "another machine" and then cut that machine off the network (`ip link set ... down`): the
/// process's connections neither close nor answer, as when a cable is pulled or a switch dies.
/// Needs root and the `ip` tool (iproute2); the namespace and its link are removed by `remove()`,
/// which `deinit` and the process's exit also call.
///
///     let network = try NetworkNamespace()        // throws XCTSkip when one cannot be made
///     defer { network.remove() }
///     let worker = network.command(["autotune", "worker", ...])
///     try network.cut()
public final class NetworkNamespace: @unchecked Sendable {
    /// The namespace's name (`ip netns exec NAME ...`).
    public let name: String
    /// This side's address on the link, which the namespace reaches.
    public let hostAddress: String
    /// The namespace's address on the link.
    public let innerAddress: String
    private let hostLink: String
    private let ip: String
    private let lock = NSLock()
    private var removed = false

    nonisolated(unsafe) private static var live: [NetworkNamespace] = []
    nonisolated(unsafe) private static var made = 0

    /// Makes the namespace with a /30 link to this one (10.213.N.1 here, 10.213.N.2 there).
    /// - Throws: `XCTSkip` saying loudly why, when not root, without `ip`, or when the kernel refuses.
    public init() throws {
        guard getuid() == 0 else {
            throw XCTSkip("NO NETWORK NAMESPACE, network-cut test skipped: it needs root (ip netns), and runs as uid \(getuid())")
        }
        guard let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first(where: FileManager.default.isExecutableFile) else {
            throw XCTSkip("NO NETWORK NAMESPACE, network-cut test skipped: the ip tool (iproute2) is not installed")
        }
        self.ip = ip
        Self.made += 1
        let tag = "\(getpid() % 100_000)x\(Self.made)"
        name = "autotune-cut-\(tag)"
        hostLink = "atc\(tag)h"
        let subnet = Int(getpid() % 200) + 20 + Self.made
        hostAddress = "10.213.\(subnet % 250).1"
        innerAddress = "10.213.\(subnet % 250).2"
        let innerLink = "atc\(tag)n"
        _ = try? run(["netns", "delete", name])
        let steps: [[String]] = [
            ["netns", "add", name],
            ["link", "add", hostLink, "type", "veth", "peer", "name", innerLink],
            ["link", "set", innerLink, "netns", name],
            ["addr", "add", "\(hostAddress)/30", "dev", hostLink],
            ["link", "set", hostLink, "up"],
            ["-n", name, "addr", "add", "\(innerAddress)/30", "dev", innerLink],
            ["-n", name, "link", "set", innerLink, "up"],
            ["-n", name, "link", "set", "lo", "up"],
        ]
        Self.live.append(self)
        if Self.live.count == 1 { atexit { NetworkNamespace.live.forEach { $0.remove() } } }
        for step in steps {
            do { try run(step) } catch {
                remove()
                throw XCTSkip("NO NETWORK NAMESPACE, network-cut test skipped: \(error)")
            }
        }
    }

    deinit { remove() }

    /// `arguments` run inside the namespace (through `ip netns exec`).
    public func command(_ arguments: [String]) -> (executable: URL, arguments: [String]) {
        (URL(fileURLWithPath: ip), ["netns", "exec", name] + arguments)
    }

    /// Takes this side of the link down: packets to and from the namespace are dropped, and
    /// nothing tells the processes inside.
    public func cut() throws { try run(["link", "set", hostLink, "down"]) }

    /// Deletes the namespace, which deletes the link with it. Safe to call more than once.
    public func remove() {
        lock.lock()
        defer { lock.unlock() }
        guard !removed else { return }
        removed = true
        _ = try? run(["netns", "delete", name])
        _ = try? run(["link", "delete", hostLink])
    }

    private struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs `ip` with `arguments`.
    /// - Throws: the command and its error output when it fails.
    private func run(_ arguments: [String]) throws {
        let process = Process(), errors = Pipe()
        process.executableURL = URL(fileURLWithPath: ip)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "'ip \(arguments.joined(separator: " "))' failed: \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }
}
