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

/// Runs a command and returns (exit status, stdout, stderr). The wait is a continuation resumed
/// by the process's termination handler, not `waitUntilExit`: tests run in parallel on the
/// cooperative pool, which has one thread per core, and a thread blocked in a wait starves every
/// other test's tasks (on 2 cores, two CLI runs stalled the whole suite until gRPC deadlines fired).
/// Output goes to files, so a child writing much to one stream cannot block on a full pipe.
@discardableResult
func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, cwd: String? = nil) async throws -> (Int32, String, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    let (status, out, err) = try await runToEnd(process)
    return (status, out, err)
}

/// Starts `process` with stdout and stderr captured in files and waits, without blocking a
/// thread, until it has exited; returns its status and output.
func runToEnd(_ process: Process) async throws -> (status: Int32, out: String, err: String) {
    let base = NSTemporaryDirectory() + "mm-run-\(UUID().uuidString)"
    FileManager.default.createFile(atPath: base + ".out", contents: nil)
    FileManager.default.createFile(atPath: base + ".err", contents: nil)
    defer {
        try? FileManager.default.removeItem(atPath: base + ".out")
        try? FileManager.default.removeItem(atPath: base + ".err")
    }
    let outHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".out"))
    let errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".err"))
    process.standardOutput = outHandle
    process.standardError = errHandle
    try await exited(process)
    try? outHandle.close()
    try? errHandle.close()
    let out = (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? ""
    let err = (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? ""
    return (process.terminationStatus, out, err)
}

/// Runs `process` (already configured) and returns once it has exited, without blocking a thread.
func exited(_ process: Process) async throws {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
        process.terminationHandler = { _ in continuation.resume() }
        do {
            try process.run()
        } catch {
            process.terminationHandler = nil
            continuation.resume(throwing: error)
        }
    }
}

/// Runs blocking `work` (a tight poll with `usleep`, a `waitUntilExit`) on a thread of its own and
/// awaits its result, so the cooperative pool is never blocked by it.
func onThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try work() }) }
        thread.stackSize = 1 << 20
        thread.start()
    }
}

/// Starts `process` (already configured) for a test that acts on it while it runs (signals, kills)
/// and returns a task that ends once it has exited: its termination handler ends it, no polling,
/// no thread blocked.
func launch(_ process: Process) throws -> Task<Void, Never> {
    let (ended, continuation) = AsyncStream<Void>.makeStream()
    process.terminationHandler = { _ in continuation.finish() }
    try process.run()
    return Task { for await _ in ended {} }
}

/// Runs `process` (already configured) to its end, SIGKILLing it if it still runs after `seconds`;
/// returns whether it had to be killed.
func runWithin(_ process: Process, seconds: Double) async throws -> Bool {
    let ended = try launch(process)
    let deadline = Task { () -> Bool in
        guard (try? await Task.sleep(for: .seconds(seconds))) != nil, process.isRunning else { return false }
        kill(process.processIdentifier, SIGKILL)
        return true
    }
    await ended.value
    deadline.cancel()
    return await deadline.value
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
