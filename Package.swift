// swift-tools-version: 6.0
import PackageDescription

// Data flows one way: KnifyServer → Jobs/Knaps → Agents → Sandboxes → DockerEngine (see ../shared/design/ARCHITECTURE.md).
let package = Package(
    name: "Knify",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "knify", targets: ["knify"]),
        .executable(name: "knify-sandbox", targets: ["knify-sandbox"]),
        .executable(name: "knify-bench", targets: ["knify-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/multipart-kit", from: "4.7.1"),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // C shims: typed wrappers for the variadic calls Swift cannot import. No logic here.
        .target(name: "CCurl", linkerSettings: [.linkedLibrary("curl")]),
        .target(name: "CSeccomp", linkerSettings: [.linkedLibrary("seccomp")]),
        .target(name: "CCap", linkerSettings: [.linkedLibrary("cap")]),

        .target(name: "DockerEngine", dependencies: [
            "CCurl",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ]),
        .target(name: "SandboxPolicy", dependencies: ["CSeccomp", "CCap", "DockerEngine"]),
        .target(name: "Storage", dependencies: [
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Sandboxes", dependencies: [
            "DockerEngine", "SandboxPolicy", "Storage",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ]),
        .target(name: "Agents"),
        .target(name: "Jobs", dependencies: [
            "Agents", "Sandboxes", "Storage", "DockerEngine",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ]),
        .target(name: "Knaps", dependencies: [
            "Jobs", "Agents", "Storage",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ]),
        .target(name: "KnifyServer", dependencies: [
            "Jobs", "Knaps", "Sandboxes", "SandboxPolicy", "Storage", "DockerEngine",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "MultipartKit", package: "multipart-kit"),
            .product(name: "CompressNIO", package: "compress-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], resources: [
            // The OpenAPI document is the contract the routes are tested against; embedded so the binary is enough.
            .embedInCode("OpenAPI/openapi.json"),
            // The web console's static files (`GET /console`), so the binary serves it with nothing beside it.
            .embedInCode("Console"),
        ]),

        .executableTarget(name: "knify", dependencies: [
            "KnifyServer", "DockerEngine", "Storage",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .executableTarget(name: "knify-sandbox", dependencies: [
            "Sandboxes", "SandboxPolicy", "DockerEngine", "Storage",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // Shared by the test targets: the real engine, the offline image, throwaway containers.
        .target(name: "KnifyTestSupport", dependencies: ["DockerEngine", "Sandboxes"], path: "Tests/KnifyTestSupport"),
        // `make bench`: Knify next to the raw engine API, in one run.
        .executableTarget(name: "knify-bench", dependencies: [
            "Jobs", "Sandboxes", "SandboxPolicy", "Storage", "DockerEngine",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "DockerEngineTests", dependencies: ["DockerEngine", "KnifyTestSupport"]),
        .testTarget(name: "SandboxesTests", dependencies: ["Sandboxes", "SandboxPolicy", "Storage", "DockerEngine", "KnifyTestSupport"]),
        .testTarget(name: "AgentsTests", dependencies: ["Agents", "KnifyTestSupport"]),
        .testTarget(name: "StorageTests", dependencies: ["Storage", .product(name: "PostgresNIO", package: "postgres-nio")]),
        .testTarget(name: "KnapsTests", dependencies: ["Knaps", "Jobs", "Agents", "Sandboxes", "SandboxPolicy", "Storage", "DockerEngine", "KnifyTestSupport"]),
        .testTarget(name: "JobsTests", dependencies: ["Jobs", "Agents", "Sandboxes", "SandboxPolicy", "Storage", "DockerEngine", "KnifyTestSupport"]),
        .testTarget(name: "KnifyServerTests", dependencies: [
            "KnifyServer", "Jobs", "Storage", "KnifyTestSupport",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "CompressNIO", package: "compress-nio"),
        ]),
    ]
)
