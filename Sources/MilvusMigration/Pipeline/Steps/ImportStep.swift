import Foundation
import Logging

/// Step 2, import: one staged segment → one import task at the target, journaled at every
/// change (`SegmentRecord.apply`), so a segment whose rows may be in Milvus is never imported a
/// second time. A segment an earlier run left in `importing` must be settled by
/// `ReconcileStep` first.
struct ImportStep: Sendable {
    var target: any MigrationTarget
    var staging: any StagingArea
    var journal: JobJournal
    var options: PipelineOptions
    let logger = Logger(label: "milvus-migration.load")

    /// Checks the staged files against their checksums (unless `checkFiles` is false: `start`
    /// checked them while staging), records the request, starts the task, records its id, polls
    /// it and records the outcome.
    func run(_ unit: SegmentUnit, checkFiles: Bool = true) async throws -> SegmentRecord {
        guard var record = await journal.record(unit.key) else {
            throw MigrationError.usage("segment \(unit.key) was not dumped (no staged files in \(staging.location)); run dump first")
        }
        let task: Int64
        // From this run's `Import` call to the final state (nil: the task was started earlier).
        var requested: Date?
        switch record.step {
        case .done:
            MigrationMetrics.unitSkipped(.load, collection: unit.collection.name)
            return record
        case .stage:
            throw MigrationError.usage("segment \(unit.key) is not staged (\(record.failure ?? "no files")); run dump first")
        case .findTask:
            throw MigrationError.target(.importUndecided, subject: unit.description, message: "an earlier run asked for its import and the answer was not recorded; rerun the command to settle it")
        case .poll(let known):
            task = known
        case .insert, .resolveInsert:
            throw MigrationError.usage("segment \(unit.key) is being loaded with Insert by an earlier run (loader.mode: insert); finish it with loader.mode: insert")
        case .importStaged:
            if checkFiles { try await StagedFileCheck.requireIntact(record, staging: staging, journal: journal) }
            // Import into a missing collection stalls the server for ~53 s: check right before.
            guard try await target.hasCollection(unit.target) else {
                throw MigrationError.target(.collectionMissing, subject: unit.description, message: "collection '\(unit.target)' disappeared from Milvus at \(target.endpoint) during the load")
            }
            record = try await journal.apply(.importRequested, to: unit.key)
            requested = Date()
            // Not retried: if the answer is lost the next run finds the task (or decides from
            // the row counts) instead of importing blindly again.
            task = try await startImport(record, unit: unit)
            record = try await journal.apply(.importTaskRecorded(task), to: unit.key)
        }
        let status = try await poll(task, unit: unit)
        if let requested {
            MigrationMetrics.importTask(seconds: Date().timeIntervalSince(requested), completed: status.state == .completed)
        }
        switch status.state {
        case .completed:
            try Self.requireRows(status, task: task, record: record, unit: unit)
            let done = try await journal.apply(.importCompleted, to: unit.key)
            MigrationMetrics.imported(collection: unit.collection.name, rows: done.rows, bytes: done.files.reduce(0) { $0 + $1.bytes })
            return done
        default:
            var reason = status.failedReason.isEmpty ? "import task \(task) failed" : status.failedReason
            if status.failure == .filesMissing {
                reason += options.stagedLocally
                    ? " (Milvus must read the staged files from the same disk: with target.mode local its storage must be local and see \(staging.location); otherwise use target.mode remote with Milvus's own bucket)"
                    : " (the files must be in the bucket Milvus itself uses: target.remote.bucket must be Milvus's minio.bucketName)"
            }
            try await journal.apply(.importFailed(reason: reason), to: unit.key)
            throw MigrationError.target(.importFailed, subject: unit.description,
                                        message: "import into collection '\(unit.target)'\(unit.partition.isDefault ? "" : " partition '\(unit.partition.name)'") failed: \(reason)",
                                        serverReason: status.failedReason)
        }
    }

    /// `Import`, repeated with a growing pause (up to `importTimeout`) while the server answers
    /// `busy` (Milvus 2.4+ holds at most `dataCoord.import.maxImportJobNum` jobs): a busy answer
    /// created nothing. Any other failure is not repeated.
    func startImport(_ record: SegmentRecord, unit: SegmentUnit) async throws -> Int64 {
        let deadline = Date().addingTimeInterval(options.importTimeout)
        var delay = 1.0
        while true {
            do {
                return try await target.startImport(collection: unit.target, partition: unit.targetPartition,
                                                    files: record.files.map { staging.importPath($0.path) }, subject: unit.description)
            } catch let error as MigrationError where error.targetKind == .busy && Date() < deadline {
                logger.notice("\(unit): \(error.description); trying again in \(Int(delay)) s")
                MigrationMetrics.retry(.milvus, cause: "busy")
                try await Task.sleep(for: .seconds(delay))
                delay = min(delay * 2, 30)
            }
        }
    }

    /// A completed task that reports a row count must report the segment's live rows.
    static func requireRows(_ status: ImportTaskStatus, task: Int64, record: SegmentRecord, unit: SegmentUnit) throws {
        if status.rows != 0 && status.rows != record.rows {
            throw MigrationError.target(.mismatch, subject: unit.description, message: "import task \(task) completed with \(status.rows) rows, expected \(record.rows)")
        }
    }

    /// Polls the task with a short backoff (0.2 s growing to 2 s) until it ends. The first
    /// question waits 0.2 s too: no import ends sooner, and a process killed right after the
    /// task id was journaled then has no GetImportState in flight (Milvus 2.3.5's proxy crashes
    /// when the context of one is cancelled, e.g. by its client's death).
    func poll(_ task: Int64, unit: SegmentUnit) async throws -> ImportTaskStatus {
        let deadline = Date().addingTimeInterval(options.importTimeout)
        var delay = 0.2
        while true {
            try await Task.sleep(for: .seconds(delay))
            let status = try await target.importState(task, subject: unit.description)
            if status.state.isFinal { return status }
            guard Date() < deadline else {
                throw MigrationError.target(.timedOut, subject: unit.description, message: "import task \(task) still \(status.state) after \(Int(options.importTimeout)) s (loader.worker.importTimeout); rerun load to keep waiting for it")
            }
            delay = min(delay * 1.5, 2)
        }
    }
}
