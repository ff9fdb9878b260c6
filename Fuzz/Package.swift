// swift-tools-version: 6.0
// libFuzzer targets for the parsers of untrusted input (see README.md here). Not part of the main
// build or of scripts/test.sh: scripts/fuzz.sh builds this package with -sanitize=fuzzer,address
// (and -enable-testing, for `@testable import MilvusMigration`) and runs each target.
import PackageDescription
import Foundation

// A path dependency's identity is its folder's name, whatever the checkout is called.
let rootIdentity = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().lastPathComponent.lowercased()

/// One executable per parser; scripts/fuzz.sh runs them by these names.
let fuzzTargets = [
    "FuzzConfig",       // migration.yaml
    "FuzzMetaJSON",     // meta.json, this tool's and the reference tool's format
    "FuzzMySQLDSN",     // meta.mysqlUrl
    "FuzzNumPy",        // .npy headers of staged files
    "FuzzSegment",      // .rv / .uid / deleted_docs of a segment folder
    "FuzzS3XML",        // S3 XML answers and error bodies
    "FuzzImportState",  // GetImportState / ListImportTasks answers
]

let package = Package(
    name: "milvus-migration-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
    ],
    targets: [
        .target(name: "FuzzSupport"),
    ] + fuzzTargets.map { name in
        .executableTarget(
            name: name,
            dependencies: [
                "FuzzSupport",
                .product(name: "MilvusMigration", package: rootIdentity),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        )
    }
)
