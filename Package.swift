// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "milvus-migration",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "milvus-migration", targets: ["milvus-migration"]),
        .library(name: "MilvusMigration", targets: ["MilvusMigration"]),
        .library(name: "MilvusMigrationService", targets: ["MilvusMigrationService"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2", exact: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", exact: "2.4.1"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", exact: "2.9.2"),
        .package(url: "https://github.com/swift-server/async-http-client", exact: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
    ],
    targets: [
        // The migration library: source (1.x meta + segments) -> plan -> convert (NumPy)
        // -> stage (local / object storage) -> target (Milvus 2.x) -> verify.
        .target(
            name: "MilvusMigration",
            dependencies: [
                "MilvusProto",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "GRDB", package: "GRDB.swift"),
                "CMariaDB",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                // Instrumentation only (no-ops until a process bootstraps a metrics backend).
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // Operating it as a service, on Hummingbird: the Prometheus `/metrics` endpoint beside a
        // job, and server mode (the HTTP job API and the status page).
        .target(
            name: "MilvusMigrationService",
            dependencies: [
                "MilvusMigration",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The MariaDB Connector/C, for the 1.x MySQL meta.
        .systemLibrary(
            name: "CMariaDB",
            pkgConfig: "libmariadb",
            providers: [.apt(["libmariadb-dev"])]
        ),
        // The Milvus 2.x gRPC contract: Swift generated from proto/ by scripts/gen-proto.sh (committed).
        .target(
            name: "MilvusProto",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // Writes Milvus 1.x db folders (meta.sqlite + segment files) exactly as 1.x does:
        // the test fixtures and the `sample` command.
        .target(
            name: "Milvus1xFixture",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // The thin CLI.
        .executableTarget(
            name: "milvus-migration",
            dependencies: [
                "MilvusMigration",
                "MilvusMigrationService",
                "Milvus1xFixture",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "MilvusMigrationTests",
            dependencies: [
                "MilvusMigration",
                "MilvusMigrationService",
                "Milvus1xFixture",
                // The job server's and the metrics endpoint's tests talk HTTP to them.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                // The Kubernetes manifests are multi-document YAML, parsed by the tests.
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Wire-level checks of the generated contract: field numbers, paths, a loopback HTTP/2 call.
        .testTarget(
            name: "MilvusProtoTests",
            dependencies: [
                "MilvusProto",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
    ]
)
