import CMicroHTTPD
import Engine
import Foundation

/// One HTTP request as the dashboard sees it: GET or HEAD, a path and its query.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The decoded path, without the query: `/api/studies/q`.
    public var path: String
    public var query: [String: String]
}

/// What a handler answers.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var body: Data

    public init(status: Int = 200, contentType: String, body: Data) { self.status = status; self.contentType = contentType; self.body = body }

    public static func json(_ text: String, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json; charset=utf-8", body: Data(text.utf8))
    }

    /// `{"error": reason}` with `status`.
    public static func error(_ status: Int, _ reason: String) -> HTTPResponse {
        .json("{\"error\":\(JSONValue.quoted(reason))}\n", status: status)
    }
}

/// An HTTP server on GNU libmicrohttpd: one internal thread polls the sockets and calls the
/// handler for each request in turn, so the handler never runs twice at once.
///
/// What it accepts is bounded: GET and HEAD only (anything else is 405), no request body (413),
/// request headers within `memoryLimit` bytes, `connectionLimit` clients at once, and a client
/// silent for `timeout` seconds is dropped.
///
///     let server = try HTTPServer(host: "127.0.0.1", port: 0) { request in .json("{}") }
///     print(server.port)
public final class HTTPServer {
    public typealias Handler = (HTTPRequest) -> HTTPResponse

    public let host: String
    /// The port bound (the one the system chose when 0 was asked for).
    public private(set) var port: Int = 0
    private let handler: Handler
    private var daemon: OpaquePointer?

    /// Start serving.
    /// - Throws: `DashboardError` when the host is not an IP address or the port cannot be bound.
    public init(host: String, port: Int, connectionLimit: Int = 64, timeout: Int = 10, memoryLimit: Int = 64 * 1024,
                handler: @escaping Handler) throws {
        self.host = host; self.handler = handler
        var v4 = sockaddr_in(), v6 = sockaddr_in6()
        let started: OpaquePointer?
        let context = Unmanaged.passUnretained(self).toOpaque()
        if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = in_port_t(UInt16(port).bigEndian)
            started = withUnsafePointer(to: &v4) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    autotune_mhd_start($0, accessHandler, context, UInt32(connectionLimit), UInt32(timeout), memoryLimit)
                }
            }
        } else if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = in_port_t(UInt16(port).bigEndian)
            started = withUnsafePointer(to: &v6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    autotune_mhd_start($0, accessHandler, context, UInt32(connectionLimit), UInt32(timeout), memoryLimit)
                }
            }
        } else {
            throw DashboardError("not an IPv4 or IPv6 address (such as 127.0.0.1, 0.0.0.0 or ::1)", usage: true)
        }
        guard let started else {
            throw DashboardError("cannot listen on \(host) port \(port) (in use, or not an address of this machine)")
        }
        daemon = started
        self.port = Int(autotune_mhd_port(started))
    }

    /// Stop serving: closes the listening socket and every connection, after the request being
    /// handled (if any).
    public func stop() {
        if let daemon { MHD_stop_daemon(daemon) }
        daemon = nil
    }

    deinit { stop() }

    /// The per-connection state libmicrohttpd keeps for us between calls of one request.
    final class Exchange { var sawBody = false }

    fileprivate func handle(_ connection: OpaquePointer, url: String, method: String, uploadSize: UnsafeMutablePointer<Int>,
                            state: UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> MHD_Result {
        // First call: headers only. Keep a marker, then discard any body as it arrives.
        guard let marker = state.pointee else {
            state.pointee = Unmanaged.passRetained(Exchange()).toOpaque()
            return .YES
        }
        let exchange = Unmanaged<Exchange>.fromOpaque(marker)
        if uploadSize.pointee != 0 {
            exchange.takeUnretainedValue().sawBody = true
            uploadSize.pointee = 0
            return .YES
        }
        let sawBody = exchange.takeUnretainedValue().sawBody
        exchange.release()
        state.pointee = nil
        let response: HTTPResponse
        if method != "GET" && method != "HEAD" {
            response = .error(405, "the dashboard only reads: \(method) is not allowed")
        } else if sawBody {
            response = .error(413, "a request to the dashboard carries no body")
        } else {
            var query: [String: String] = [:]
            for key in ["since", "objective", "limit"] {
                if let value = MHD_lookup_connection_value(connection, .GET_ARGUMENT_KIND, key) { query[key] = String(cString: value) }
            }
            response = handler(HTTPRequest(method: method, path: url, query: query))
        }
        return send(response, on: connection, head: method == "HEAD")
    }

    private func send(_ r: HTTPResponse, on connection: OpaquePointer, head: Bool) -> MHD_Result {
        let body = head ? Data() : r.body
        let response = body.withUnsafeBytes { raw in
            MHD_create_response_from_buffer(raw.count, UnsafeMutableRawPointer(mutating: raw.baseAddress), .RESPMEM_MUST_COPY)
        }
        guard let response else { return .NO }
        defer { MHD_destroy_response(response) }
        for (name, value) in [("Content-Type", r.contentType), ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"),
                              ("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'"),
                              ("Referrer-Policy", "no-referrer")] {
            _ = MHD_add_response_header(response, name, value)
        }
        return MHD_queue_response(connection, UInt32(r.status), response)
    }
}

/// libmicrohttpd's access callback: hands each call to the server it was started with.
private let accessHandler: MHD_AccessHandlerCallback = { context, connection, url, method, _, _, uploadSize, state in
    guard let context, let connection, let url, let method, let uploadSize, let state else { return .NO }
    let server = Unmanaged<HTTPServer>.fromOpaque(context).takeUnretainedValue()
    return server.handle(connection, url: String(cString: url), method: String(cString: method), uploadSize: uploadSize, state: state)
}

/// A dashboard failure: bad options (usage) or a server that cannot start.
public struct DashboardError: Error, CustomStringConvertible {
    public let reason: String
    public let usage: Bool
    public init(_ reason: String, usage: Bool = false) { self.reason = reason; self.usage = usage }
    public var description: String { reason }
}
