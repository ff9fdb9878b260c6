import Foundation
@testable import MilvusMigration

/// A `MigrationTarget` in memory, for unit tests of the pipeline's own logic (onExisting,
/// resume, settling open imports, failures, counts) in milliseconds. It models what that logic
/// relies on: collections with a schema and partitions, import tasks that read the staged
/// `.npy` files (rows become visible when a task completes), a task list, and row counts, plus
/// switches for the faults a real server shows. It is never used to claim that a migration
/// works: the tests against a real Milvus 2.3.5 are the judge of that.
actor InMemoryTarget: MigrationTarget {
    nonisolated let endpoint = "memory:19530"

    struct Collection {
        var schema: TargetSchema
        /// Rows per partition ("_default" always exists).
        var rows: [String: Int64] = ["_default": 0]
    }

    struct ImportTask {
        var id: Int64
        var collection: String
        var partition: String
        var files: [String]
        var rows: Int64
        var state: ImportTaskStatus.State
        var failedReason = ""
        var failure: ImportFailureKind?
    }

    private(set) var collections: [String: Collection] = [:]
    private(set) var tasks: [Int64: ImportTask] = [:]
    private var nextTask: Int64 = 100
    /// Every call by name, in order.
    private(set) var calls: [String] = []
    /// A hung task finishes once `GetImportState` has been asked about it this many times (nil:
    /// hung tasks hang until the end): a job that is still running, seen by whoever watches it.
    var finishHungTasksAfterPolls: Int?
    private var polls: [Int64: Int] = [:]
    func set(finishHungTasksAfterPolls: Int?) { self.finishHungTasksAfterPolls = finishHungTasksAfterPolls }
    /// The task whose answer is lost (`loseNextImportAnswer`) keeps running (see `calls`).
    var lostAnswerTaskHangs = false
    func set(lostAnswerTaskHangs: Bool) { self.lostAnswerTaskHangs = lostAnswerTaskHangs }
    /// Milvus 2.4+: `ListImportTasks` may not report a task's files.
    var listsNoFiles = false
    func set(listsNoFiles: Bool) { self.listsNoFiles = listsNoFiles }

    // Faults.
    /// Import tasks of files whose path contains one of these fail ("bad file").
    var failImportsContaining: [String] = []
    /// Import tasks fail as a server that does not see the staging area answers (Milvus 2.3 with
    /// its own storage elsewhere: "no such file or directory"), classified `.filesMissing` as
    /// `MilvusClient` classifies that text.
    var stagedFilesInvisible = false
    /// The next `startImport` creates and runs the task but the answer is lost (unreachable).
    var loseNextImportAnswer = false
    /// Tasks stay `started` (never finish) while true, as after a server restart.
    var tasksHang = false
    /// Flush calls (the count check must flush before counting).
    var flushes = 0
    /// What the server says it is: Milvus 2.x (every row kept) or Milvus Lite (one row per
    /// primary key, no binary vectors, no Import).
    var serverCapabilities = TargetCapabilities.of(version: "v2.3.5")
    /// Insert mode faults: the next `Insert` is applied but its answer lost / refused outright.
    var loseNextInsertAnswer = false
    var refuseNextInsert = false
    /// The next `Insert` calls answer "rate limit exceeded" (busy: nothing applied).
    var busyInserts = 0
    /// The next `Insert` is applied, then fails on its way back with a status Milvus itself
    /// never sends (gRPC INTERNAL from a proxy): its outcome is unknown to the client.
    var unknownOutcomeNextInsert = false
    /// Inserts fail with "unreachable" (not applied) after this many more succeed (nil: never).
    var insertsBeforeOutage: Int?
    /// One-row-per-key servers: where each id lives (collection → id → partition).
    private var keyed: [String: [Int64: String]] = [:]
    /// Every `Insert` batch received, as (collection, partition, rows).
    private(set) var inserts: [(String, String, Int)] = []

    /// The next `Import` calls answer "number of jobs has reached the limit" (Milvus 2.4+).
    var busyImports = 0
    func set(busyImports: Int) { self.busyImports = busyImports }

    func set(capabilities: TargetCapabilities) { serverCapabilities = capabilities }
    func set(loseNextInsertAnswer: Bool) { self.loseNextInsertAnswer = loseNextInsertAnswer }
    func set(refuseNextInsert: Bool) { self.refuseNextInsert = refuseNextInsert }
    func set(busyInserts: Int) { self.busyInserts = busyInserts }
    func set(unknownOutcomeNextInsert: Bool) { self.unknownOutcomeNextInsert = unknownOutcomeNextInsert }
    func set(insertsBeforeOutage: Int?) { self.insertsBeforeOutage = insertsBeforeOutage }

    func set(failImportsContaining: [String]) { self.failImportsContaining = failImportsContaining }
    func set(stagedFilesInvisible: Bool) { self.stagedFilesInvisible = stagedFilesInvisible }
    func set(loseNextImportAnswer: Bool) { self.loseNextImportAnswer = loseNextImportAnswer }
    func set(tasksHang: Bool) { self.tasksHang = tasksHang }

    /// A collection that exists before the migration (another job's or the user's).
    func addExisting(_ name: String, schema: TargetSchema, rows: Int64) {
        collections[name] = Collection(schema: schema, rows: ["_default": rows])
    }

    /// Rows written behind the job's back.
    func addRows(_ collection: String, _ partition: String, _ rows: Int64) {
        collections[collection]!.rows[partition, default: 0] += rows
    }

    /// A server restart that forgets every task; rows already persisted stay.
    func restartForgettingTasks() {
        tasks = [:]
    }

    /// Completes every hanging task now (its rows become visible).
    func completeHangingTasks() {
        for id in tasks.keys where tasks[id]!.state == .started { finish(id) }
    }

    func count(of name: String) -> Int { calls.filter { $0 == name }.count }
    func rows(_ collection: String, _ partition: String? = nil) -> Int64? {
        guard let c = collections[collection] else { return nil }
        if let partition { return c.rows[partition] }
        return c.rows.values.reduce(0, +)
    }

    // MARK: MigrationTarget

    func hasCollection(_ name: String) async throws -> Bool {
        calls.append("hasCollection")
        return collections[name] != nil
    }

    func describeCollection(_ name: String) async throws -> (schema: TargetSchema?, fields: String) {
        calls.append("describeCollection")
        guard let c = collections[name] else { throw missing(name) }
        return (c.schema, c.schema.description)
    }

    func createCollection(_ name: String, schema: TargetSchema, description: String, shards: Int) async throws {
        calls.append("createCollection")
        guard collections[name] == nil else {
            throw MigrationError.target(.refused, subject: "collection '\(name)'", message: "CreateCollection failed: already exists")
        }
        collections[name] = Collection(schema: schema)
    }

    func dropCollection(_ name: String) async throws {
        calls.append("dropCollection")
        collections[name] = nil
    }

    func hasPartition(_ collection: String, _ partition: String) async throws -> Bool {
        calls.append("hasPartition")
        guard let c = collections[collection] else { throw missing(collection) }
        return c.rows[partition] != nil
    }

    func createPartition(_ collection: String, _ partition: String) async throws {
        calls.append("createPartition")
        guard collections[collection] != nil else { throw missing(collection) }
        collections[collection]!.rows[partition] = collections[collection]!.rows[partition] ?? 0
    }

    func startImport(collection: String, partition: String?, files: [String], subject: String) async throws -> Int64 {
        calls.append("startImport")
        let partition = partition ?? "_default"
        if busyImports > 0 {
            busyImports -= 1
            throw MigrationError.target(.busy, subject: subject, message: "Import refused for now: number of jobs has reached the limit")
        }
        guard collections[collection]?.rows[partition] != nil else {
            throw MigrationError.target(.refused, subject: subject, message: "Import failed: partition '\(partition)' not found")
        }
        let rows = try files.map(Self.rowsOf)
        nextTask += 1
        let id = nextTask
        tasks[id] = ImportTask(id: id, collection: collection, partition: partition, files: files, rows: rows.first ?? 0, state: .started)
        if stagedFilesInvisible {
            tasks[id]!.state = .failed
            tasks[id]!.failedReason = "open \(files[0]): no such file or directory"
            tasks[id]!.failure = .filesMissing
        } else if let bad = failImportsContaining.first(where: { needle in files.contains { $0.contains(needle) } }) {
            tasks[id]!.state = .failed
            tasks[id]!.failedReason = "bad file (\(bad))"
        } else if Set(rows).count != 1 {
            tasks[id]!.state = .failed
            tasks[id]!.failedReason = "row counts of the files differ: \(rows)"
        } else if !tasksHang && !(loseNextImportAnswer && lostAnswerTaskHangs) {
            finish(id)
        }
        if loseNextImportAnswer {
            loseNextImportAnswer = false
            throw MigrationError.target(.unreachable, subject: "Milvus at \(endpoint)", message: "unreachable (Import: connection reset)")
        }
        return id
    }

    func importState(_ task: Int64, subject: String) async throws -> ImportTaskStatus {
        calls.append("importState")
        guard let t = tasks[task] else {
            throw MigrationError.target(.refused, subject: subject, message: "GetImportState failed: task \(task) not found")
        }
        polls[task, default: 0] += 1
        if t.state == .started, let after = finishHungTasksAfterPolls, polls[task]! >= after {
            finish(task)
            return status(tasks[task]!)
        }
        return status(t)
    }

    func listImportTasks(collection: String) async throws -> [ImportTaskStatus] {
        calls.append("listImportTasks")
        return tasks.values.filter { $0.collection == collection }.sorted { $0.id < $1.id }.map { t in
            var s = status(t)
            if listsNoFiles { s.files = [] }
            return s
        }
    }

    func capabilities() async throws -> TargetCapabilities {
        calls.append("capabilities")
        return serverCapabilities
    }

    func insert(collection: String, partition: String?, fields: FieldNames, batch: RowBatch, subject: String) async throws -> Int64 {
        calls.append("insert")
        let partition = partition ?? "_default"
        if let left = insertsBeforeOutage {
            if left == 0 { throw MigrationError.target(.unreachable, subject: "Milvus at \(endpoint)", message: "unreachable (Insert: connection refused)") }
            insertsBeforeOutage = left - 1
        }
        if refuseNextInsert {
            refuseNextInsert = false
            throw MigrationError.target(.refused, subject: subject, message: "Insert failed: the request is too large", serverReason: "the request is too large")
        }
        if busyInserts > 0 {
            busyInserts -= 1
            throw MigrationError.target(.busy, subject: subject, message: "Insert refused for now: rate limit exceeded", serverReason: "rate limit exceeded")
        }
        guard let c = collections[collection], c.rows[partition] != nil else {
            throw MigrationError.target(.refused, subject: subject, message: "Insert failed: partition '\(partition)' not found")
        }
        guard batch.kind == c.schema.vectorKind, batch.vectorBytes == batch.rows * (batch.kind == .float ? 4 * batch.dimension : batch.dimension / 8) else {
            throw MigrationError.target(.refused, subject: subject, message: "Insert failed: the vectors do not match the schema")
        }
        inserts.append((collection, partition, batch.rows))
        if serverCapabilities.rowRule == .onePerPrimaryKey {
            for id in batch.ids {
                if let old = keyed[collection, default: [:]][id] { collections[collection]!.rows[old]! -= 1 }
                keyed[collection, default: [:]][id] = partition
                collections[collection]!.rows[partition]! += 1
            }
        } else {
            collections[collection]!.rows[partition]! += Int64(batch.rows)
        }
        if loseNextInsertAnswer {
            loseNextInsertAnswer = false
            throw MigrationError.target(.unreachable, subject: "Milvus at \(endpoint)", message: "unreachable (Insert: connection reset)")
        }
        if unknownOutcomeNextInsert {
            unknownOutcomeNextInsert = false
            throw MigrationError.target(.outcomeUnknown, subject: subject, message: "Insert failed at \(endpoint): internalError upstream connect error")
        }
        return Int64(batch.rows)
    }

    func flush(_ collections: [String]) async throws {
        calls.append("flush")
        flushes += 1
    }

    func rowCount(collection: String) async throws -> Int64 {
        calls.append("rowCount")
        guard let rows = rows(collection) else { throw missing(collection) }
        return rows
    }

    func rowCount(collection: String, partition: String) async throws -> Int64 {
        calls.append("rowCount")
        guard let c = collections[collection] else { throw missing(collection) }
        guard let rows = c.rows[partition] else {
            throw MigrationError.target(.refused, subject: "collection '\(collection)' partition '\(partition)'", message: "partition not found")
        }
        return rows
    }

    func createIndex(collection: String, field: String, indexType: String, metric: String, params: String, timeout: Double) async throws {
        calls.append("createIndex")
    }

    func loadCollection(_ collection: String, timeout: Double) async throws {
        calls.append("loadCollection")
    }

    // MARK: internals

    private func finish(_ id: Int64) {
        let t = tasks[id]!
        collections[t.collection]!.rows[t.partition, default: 0] += t.rows
        tasks[id]!.state = .completed
    }

    private func status(_ t: ImportTask) -> ImportTaskStatus {
        ImportTaskStatus(id: t.id, state: t.state, rows: t.state == .completed ? t.rows : 0, failedReason: t.failedReason,
                         failure: t.failure, files: t.files, collection: t.collection, partition: t.partition)
    }

    private func missing(_ name: String) -> MigrationError {
        .target(.collectionMissing, subject: "collection '\(name)'", message: "collection not found")
    }

    /// Rows of a staged `.npy` file (its first dimension), read from the local staging area.
    static func rowsOf(_ path: String) throws -> Int64 {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        let prefix = [UInt8](try handle.read(upToCount: 4096) ?? Data())
        return Int64(try NumPyFile.parse(prefix, file: path).header.shape[0])
    }
}
