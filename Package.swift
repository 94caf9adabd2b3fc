// swift-tools-version:6.0
import PackageDescription

let optimize: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release)),
]

let package = Package(
    name: "autotune",
    products: [
        .executable(name: "autotune", targets: ["autotune"]),
        .library(name: "Engine", targets: ["Engine"]),
    ],
    targets: [
        // MARK: C libraries (Debian: libopenblas-dev, libsqlite3-dev, libpq-dev, zlib1g-dev)
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        // GNU libmicrohttpd (Debian: libmicrohttpd-dev) for the dashboard's HTTP server.
        .systemLibrary(name: "CMicroHTTPD", pkgConfig: "libmicrohttpd", providers: [.apt(["libmicrohttpd-dev"])]),
        // Kernels compiled per instruction set and chosen at run time (see include/CKernels.h).
        .target(name: "CKernels"),

        // MARK: Libraries
        .target(name: "Engine", dependencies: ["CBLAS", "CZlib", "CKernels"], swiftSettings: optimize),
        .target(name: "Compression", dependencies: ["Engine", "CBLAS", "CZlib", "CKernels"], swiftSettings: optimize),
        .target(name: "Hardware", dependencies: ["Engine", "CBLAS"], swiftSettings: optimize),
        .target(name: "Parallel", dependencies: ["Engine", "Hardware"], swiftSettings: optimize),
        .target(name: "Store", dependencies: ["CSQLite", "CPostgres"], swiftSettings: optimize),
        .target(name: "Search", dependencies: ["Engine", "Compression", "Hardware", "Parallel", "Store"], swiftSettings: optimize),
        .target(name: "Report", dependencies: ["Engine", "Compression", "Hardware", "Parallel", "Search", "Store", "CZlib"], exclude: ["ONNX/check", "Export/check"], swiftSettings: optimize),
        .target(name: "Dashboard", dependencies: ["CMicroHTTPD", "Engine", "Search", "Store", "Bench"], swiftSettings: optimize),
        .target(name: "Bench", dependencies: ["Engine", "Compression", "Hardware", "Parallel", "Report", "Search", "Store"], exclude: ["peers"], swiftSettings: optimize),

        // A PostgreSQL server for the tests: the one AUTOTUNE_TEST_POSTGRES names, or a throwaway cluster (Store.ThrowawayPostgreSQL).
        .target(name: "StoreTesting", dependencies: ["CPostgres", "Store"]),

        // MARK: Executable
        .executableTarget(name: "autotune", dependencies: ["Engine", "Compression", "Hardware", "Parallel", "Search", "Store", "Report", "Bench", "Dashboard"], swiftSettings: optimize),

        // MARK: Tests
        .testTarget(name: "EngineTests", dependencies: ["Engine"]),
        .testTarget(name: "CompressionTests", dependencies: ["Compression", "Engine"]),
        .testTarget(name: "HardwareTests", dependencies: ["Hardware", "Engine"]),
        .testTarget(name: "ParallelTests", dependencies: ["Parallel", "Hardware", "Engine"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "StoreTesting"]),
        .testTarget(name: "SearchTests", dependencies: ["Search", "Engine", "Hardware", "Parallel", "Store"]),
        .testTarget(name: "ReportTests", dependencies: ["Report", "Search", "Store", "Engine", "Compression", "Parallel"]),
        .testTarget(name: "DashboardTests", dependencies: ["Dashboard", "Search", "Store", "Engine"]),
        .testTarget(name: "BenchTests", dependencies: ["Bench", "Search", "Store", "Engine", "Hardware", "Parallel"]),
        .testTarget(name: "AutotuneTests", dependencies: ["autotune", "Engine", "Compression", "Store", "StoreTesting"]),
    ],
    swiftLanguageModes: [.v5]
)
