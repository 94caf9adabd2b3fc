import Dashboard
import Foundation
import Store

/// `autotune dashboard`: serve the store as a live web page and a JSON API until interrupted.
struct DashboardCommand: Command {
    static let configuration = CommandConfiguration(
        name: "dashboard",
        abstract: "Serve the store's studies as a live web page and a read-only JSON API (until Ctrl-C).",
        usage: "[--db PATH | --storage URL] [--host 127.0.0.1] [--port 8080] [--d3 PATH]",
        options: [
            .database, .storage,
            .value("host", valueName: "ADDRESS", help: "The address to listen on. Anything but loopback serves the store to the network, with a warning.",
                   defaultDescription: "127.0.0.1"),
            .value("port", valueName: "N", help: "The port to listen on (0: any free port, printed).", defaultDescription: "8080"),
            .value("d3", valueName: "PATH", help: "d3 (version 3) to serve to the page.", defaultDescription: DashboardAPI.defaultD3Path),
        ])

    var store: StudyStore
    var host: String
    var port: Int
    var d3: String

    init(_ values: ParsedValues) throws {
        store = try StudyStore(values)
        host = try values.optionalValue("host") ?? "127.0.0.1"
        port = try values.optionalValue("port") ?? 8080
        d3 = try values.optionalValue("d3") ?? DashboardAPI.defaultD3Path
    }

    func validate() throws {
        guard (0...65535).contains(port) else { throw CLIError.invalidValue(name: "--port", value: String(port), reason: "a port is 0 to 65535") }
    }

    func run() throws -> Int32 {
        let storage = try store.openExisting()
        let database = store.description
        // The nightly history lives in an SQLite store only.
        let api = DashboardAPI(storage: storage, location: database, history: storage as? SQLiteStorage, d3Path: d3)
        let server: HTTPServer
        do { server = try HTTPServer(host: host, port: port, handler: api.respond) } catch let e as DashboardError {
            throw e.usage ? CLIError.invalidValue(name: "--host", value: host, reason: e.reason) : CLIError.runtime(e.reason)
        }
        if !["127.0.0.1", "::1"].contains(host) {
            FileHandle.standardError.write(Data("autotune: warning: serving \(database) to every client that can reach \(host):\(server.port); the dashboard has no login\n".utf8))
        }
        if !FileManager.default.fileExists(atPath: d3) {
            FileHandle.standardError.write(Data("autotune: warning: no d3 at \(d3) (apt-get install libjs-d3): the page's charts will not draw\n".utf8))
        }
        let shown = host.contains(":") ? "[\(host)]" : host
        print("dashboard of \(database) at http://\(shown):\(server.port)/ (Ctrl-C stops it)")
        fflush(stdout)
        let stop = DispatchSemaphore(value: 0)
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: DispatchQueue.global())
            source.setEventHandler { stop.signal() }
            source.resume()
            sources.append(source)
        }
        stop.wait()
        server.stop()
        return 0
    }
}
