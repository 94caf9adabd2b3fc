import CSQLite
import Foundation

/// Whether a path lies on a network file system, where SQLite's file locking cannot be trusted
/// (https://www.sqlite.org/howtocorrupt.html, §2.1 and §2.2): several workers sharing a store
/// there can corrupt it. Read from the file system's magic number (`statfs`, Linux `f_type`).
public enum NetworkFileSystem {
    /// The network file systems recognised, by `statfs` magic number (linux/magic.h).
    static let names: [Int: String] = [
        0x6969: "NFS",
        0x517B: "SMB",
        0xFF53_4D42: "CIFS",
        0xFE53_4D42: "SMB2",
        0x0102_1997: "9P",
        0x7375_7245: "Coda",
        0x5346_414F: "AFS",
        0x6B41_4653: "AFS",
        0x0BD0_0BD0: "Lustre",
        0x0083_0A1C: "GFS2",
        0x4750_4653: "GPFS",
    ]

    /// The environment variable that lets a store on a network file system be used anyway.
    public static let overrideVariable = "AUTOTUNE_SQLITE_ON_NETWORK_FS"

    /// The network file system `magic` names, or nil for a local one.
    public static func name(ofMagic magic: Int) -> String? { names[magic] }

    /// The network file system the directory holding `path` is on, or nil (local, or unknown).
    public static func name(of path: String) -> String? {
        let directory = (path as NSString).deletingLastPathComponent
        var info = statfs()
        guard statfs(directory.isEmpty ? "." : directory, &info) == 0 else { return nil }
        return name(ofMagic: Int(info.f_type) & 0xFFFF_FFFF)
    }

    /// Refuses a store whose file lies on a network file system, unless the environment says to
    /// use it anyway.
    /// - Throws: `StoreError(.cannotOpen)` naming the file system and the two ways out.
    static func check(_ path: String, fileSystem: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let fileSystem, environment[overrideVariable] != "1" else { return }
        throw StoreError(file: path, kind: .cannotOpen,
                         reason: "is on \(fileSystem), a network file system, where SQLite's file locking is unsafe and workers sharing it can corrupt it; "
                            + "keep it on a local disk, use a PostgreSQL store (--storage), or set \(overrideVariable)=1 to use it anyway")
    }
}
