import Foundation
import GRDB
import Milvus1xFixture
@testable import MilvusMigration

/// A fresh temporary folder per test, removed at deinit.
final class TempDir {
    let path: String

    init(_ name: String = "mm") {
        path = NSTemporaryDirectory() + "\(name)-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func sub(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

func readBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

func hex(_ text: String) -> [UInt8] {
    text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { UInt8($0, radix: 16)! }
}

/// The worked example of docs/FORMAT.md §3.7: float dim 4, ids 10, 11, 12.
let workedExampleRows: [[Float]] = [[1, 2, 3, 4], [0.5, 0, -1, 2], [0.25, -2, 8, 1.5]]
let workedExampleSegment = "1625097600000000000"

@discardableResult
func makeWorkedExample(at root: String, deleting: [[Int32]] = []) throws -> Milvus1xDatabase {
    let db = try Milvus1xDatabase(root: root, version: "1.1.1")
    db.addCollection("example", dimension: 4, metric: 1)
    try db.addSegment(table: "example", ids: [10, 11, 12], floatRows: workedExampleRows, deleteBatches: deleting, segmentId: workedExampleSegment)
    try db.finish()
    return db
}

/// Reads, assembles and plans a db folder written by the fixture.
func planOf(_ db: Milvus1xDatabase, renames: [String: String] = [:]) async throws -> MigrationPlan {
    let meta = MetaAssembler.assemble(try SQLiteMetaReader(path: db.metaPath).read())
    return try await Planner(storage: LocalSourceStorage(root: db.tablesPath), renames: renames).plan(meta)
}

func float32Bytes(_ rows: [[Float]]) -> [UInt8] {
    var out: [UInt8] = []
    for row in rows { for v in row { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } } }
    return out
}

/// Runs a command and returns (exit status, stdout, stderr).
@discardableResult
func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, cwd: String? = nil) throws -> (Int32, String, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// The CLI binary built next to the tests.
let cliPath: String = {
    // Another build of the CLI (e.g. an older one, to show a test fails there).
    if let path = ProcessInfo.processInfo.environment["MM_CLI_PATH"], !path.isEmpty { return path }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    for candidate in [".build/debug/milvus-migration", ".build/release/milvus-migration"] {
        let path = root.appendingPathComponent(candidate).path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return root.appendingPathComponent(".build/debug/milvus-migration").path
}()

/// Rebuilds a 1.x meta's `Tables` and `TableFiles` without their NOT NULL constraints (column
/// types kept), then runs `sql` on it: how the tests write values 1.x itself never would.
func loosenMeta(at metaPath: String, thenRun sql: String) throws {
    let queue = try DatabaseQueue(path: metaPath)
        try queue.write { db in
            for table in ["Tables", "TableFiles"] {
                try db.execute(sql: "CREATE TABLE loose AS SELECT * FROM \(table)")
                try db.execute(sql: "DROP TABLE \(table)")
                try db.execute(sql: "ALTER TABLE loose RENAME TO \(table)")
            }
            try db.execute(sql: sql)
        }
        try queue.close()
}
