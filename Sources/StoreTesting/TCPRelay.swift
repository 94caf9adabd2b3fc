import Foundation

/// A TCP relay: accepts connections on one address and copies bytes both ways to another, so a
/// server that listens only on loopback can be reached over a test network link (a network
/// namespace's veth). Each connection gets two threads; `stop()` closes every socket.
///
///     let relay = try TCPRelay(listenOn: "10.213.20.1", to: "127.0.0.1", port: 5432)
///     defer { relay.stop() }
///     // connect to 10.213.20.1:\(relay.port)
public final class TCPRelay: @unchecked Sendable {
    /// The port the relay listens on (chosen by the kernel).
    public let port: Int
    private let listener: Int32
    private let target: (host: String, port: Int)
    private let lock = NSLock()
    private var sockets: Set<Int32> = []
    private var stopped = false

    private struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Listens on `address` (an IPv4 address of this machine) and relays to `host`:`port`.
    /// - Throws: when the address cannot be bound.
    public init(listenOn address: String, to host: String, port targetPort: Int) throws {
        target = (host, targetPort)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "no socket: \(String(cString: strerror(errno)))") }
        var local = Self.address(address, port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &local) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 64) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw Failure(description: "cannot listen on \(address): \(reason)")
        }
        listener = fd
        port = Int(UInt16(bigEndian: local.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// Closes the listener and every relayed connection.
    public func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for fd in sockets { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else {
                if errno == EINTR { continue }
                return
            }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var remote = Self.address(target.host, port: target.port)
            let connected = server >= 0 && withUnsafePointer(to: &remote) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            lock.lock()
            let open = connected && !stopped
            if open { sockets.formUnion([client, server]) }
            lock.unlock()
            guard open else {
                close(client)
                if server >= 0 { close(server) }
                continue
            }
            Thread.detachNewThread { [self] in pump(from: client, to: server) }
            Thread.detachNewThread { [self] in pump(from: server, to: client) }
        }
    }

    /// Copies bytes until either side ends, then ends both directions (the other pump closes).
    private func pump(from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 16_384)
        copying: while true {
            let count = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            var sent = 0
            while sent < count {
                let written = buffer.withUnsafeBytes { write(destination, $0.baseAddress! + sent, count - sent) }
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { break copying }
                sent += written
            }
        }
        shutdown(source, Int32(SHUT_RDWR))
        shutdown(destination, Int32(SHUT_RDWR))
        lock.lock()
        // The second pump of a pair to finish closes both sockets.
        if sockets.contains(source) && sockets.contains(destination) {
            sockets.remove(source)
            sockets.remove(destination)
            lock.unlock()
            return
        }
        lock.unlock()
        close(source)
        close(destination)
    }

    private static func address(_ host: String, port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(host)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return address
    }
}
