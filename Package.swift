// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "milvus-migration",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "milvus-migration", targets: ["milvus-migration"]),
        .library(name: "MilvusMigration", targets: ["MilvusMigration"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
    ],
    targets: [
        // The migration library: source (1.x meta + segments) -> plan -> convert (NumPy)
        // -> stage (local / object storage) -> target (Milvus 2.x) -> verify.
        .target(
            name: "MilvusMigration",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "GRDB", package: "GRDB.swift"),
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
                "Milvus1xFixture",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "MilvusMigrationTests",
            dependencies: ["MilvusMigration", "Milvus1xFixture"]
        ),
    ]
)
