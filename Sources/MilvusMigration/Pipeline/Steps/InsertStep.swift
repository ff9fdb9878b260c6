import Foundation
import Logging

/// Insert mode, in place of stage + import: one segment's live rows, read from the source, go to
/// the target in `Insert` requests of at most `PipelineOptions.insertBatchBytes`. Nothing is
/// staged. Every batch is journaled before it is sent and when it is acknowledged, and at most
/// one batch per partition is in flight (`InsertLanes`), so after a kill the one batch whose
/// answer was lost is decided from the partition count (`ReconcileStep.resolveInserts`) before
/// anything is sent: every row reaches the target exactly once.
struct InsertStep: Sendable {
    var target: any MigrationTarget
    var source: any SourceStorage
    var journal: JobJournal
    var options: PipelineOptions
    var lanes: InsertLanes
    var progress: ProgressReporter
    let logger = Logger(label: "milvus-migration.insert")

    /// Sends the segment's live rows from the first one not acknowledged; returns the record and
    /// whether anything was sent.
    func run(_ unit: SegmentUnit) async throws -> (SegmentRecord, worked: Bool) {
        guard let layout = unit.layout else {
            // A group an earlier import-mode run staged (dumper.worker.groupMB) keeps that shape.
            if let r = await journal.record(unit.key), r.step == .done {
                progress.addBytes(unit.payloadBytes)
                MigrationMetrics.unitSkipped(.load, collection: unit.collection.name)
                return (r, false)
            }
            throw MigrationError.usage("\(unit) was staged as one import by an earlier run (dumper.worker.groupMB); finish it with loader.mode: import")
        }
        let rowBytes = layout.bytesPerRow
        var record = await journal.record(unit.key)
        if let r = record, r.step == .done {
            if r.sourceFingerprint != unit.fingerprint {
                logger.warning("segment \(unit.key): the source changed since it was loaded; it is not loaded again (re-migrate into a new collection to pick up the change)")
            }
            progress.addBytes(unit.payloadBytes)
            MigrationMetrics.unitSkipped(.load, collection: unit.collection.name)
            return (r, false)
        }
        if record?.phase == .inserting {
            if record!.sourceFingerprint != unit.fingerprint {
                throw MigrationError.segment(file: source.display(layout.idsFile), message: "changed since an earlier run began inserting segment \(unit.key) (\(record!.insertedRows ?? 0) of its rows are in Milvus); re-migrate it into a new collection")
            }
        } else {
            record = try await journal.apply(.insertStarted(rows: layout.liveRows, deletedRows: Int64(layout.deleted.count), fingerprint: unit.fingerprint), to: unit.key)
        }
        guard case .insert(let from) = record!.step else {
            throw MigrationError.target(.importUndecided, subject: unit.description, message: "a batch an earlier run sent has no recorded answer; rerun the command to settle it")
        }

        var sent = from
        if sent < layout.liveRows {
            let batchRows = max(1, options.insertBatchBytes / (8 + rowBytes))
            let start = layout.deleted.physicalRow(live: from)
            progress.addBytes(start * Int64(8 + rowBytes))
            let ids = LiveRowReader(file: try await source.openChecked(layout.idsFile, rows: layout.totalRows, rowBytes: 8), rowBytes: 8,
                                    totalRows: layout.totalRows, deleted: layout.deleted, rowsPerChunk: batchRows, startRow: start)
            let vectors = LiveRowReader(file: try await source.openChecked(layout.vectorsFile, rows: layout.totalRows, rowBytes: rowBytes), rowBytes: rowBytes,
                                        totalRows: layout.totalRows, deleted: layout.deleted, rowsPerChunk: batchRows, startRow: start)
            while let idChunk = try await ids.next() {
                try Task.checkCancellation()
                guard let vectorChunk = try await vectors.next(), vectorChunk.liveRows == idChunk.liveRows else {
                    throw MigrationError.segment(file: source.display(layout.vectorsFile), message: "its rows do not line up with \(source.display(layout.idsFile))")
                }
                progress.addBytes(Int64(idChunk.physicalRows * (8 + rowBytes)))
                let n = idChunk.liveRows
                guard n > 0 else { continue }
                let batch = RowBatch(idBytes: idChunk.bytes, vectorBytes: vectorChunk.bytes,
                                     kind: unit.collection.vectorKind, dimension: unit.collection.dimension)
                try await send(batch, from: sent, of: unit)
                sent += Int64(n)
            }
        }
        guard sent == layout.liveRows else {
            throw MigrationError.segment(file: source.display(layout.idsFile), message: "read \(sent) live rows, expected \(layout.liveRows)")
        }
        let done = try await journal.apply(.insertCompleted, to: unit.key)
        return (done, true)
    }

    /// One batch, holding the partition's lane: journaled before it is sent and once acknowledged.
    /// A `busy` answer (rate limit, too many requests: nothing was applied) is recorded and the
    /// batch sent again after a growing pause, until `importTimeout`.
    func send(_ batch: RowBatch, from: Int64, of unit: SegmentUnit) async throws {
        let rows = Int64(batch.rows)
        try await lanes.lane(unit.target, unit.partition.name).with {
            let deadline = Date().addingTimeInterval(options.importTimeout)
            var pause = 0.5
            var acknowledged: Int64
            while true {
                try await journal.apply(.insertSending(from: from, rows: rows), to: unit.key)
                do {
                    acknowledged = try await target.insert(collection: unit.target, partition: unit.targetPartition, fields: options.fields,
                                                           batch: batch, subject: unit.description)
                    break
                } catch let error as MigrationError where error.provesNothingApplied {
                    // The server answered and refused the request: none of its rows is in.
                    try await journal.apply(.insertNotApplied(reason: error.description), to: unit.key)
                    guard error.targetKind == .busy, Date() < deadline else { throw error }
                    logger.notice("\(unit): \(error.description); sending rows \(from)..<\(from + rows) again in \(pause) s")
                    MigrationMetrics.retry(.milvus, cause: "busy")
                    try await Task.sleep(for: .seconds(pause))
                    pause = min(pause * 2, 30)
                }
            }
            // Anything else (no answer, a wrong count) leaves the batch in flight: the next run
            // decides it from the counts.
            guard acknowledged == rows else {
                throw MigrationError.target(.mismatch, subject: unit.description, message: "Insert of rows \(from)..<\(from + rows) acknowledged \(acknowledged) rows, expected \(rows); rerun to settle it from the row counts")
            }
            try await journal.apply(.insertAcknowledged, to: unit.key)
            MigrationMetrics.inserted(collection: unit.collection.name, rows: rows, bytes: Int64(batch.rows * 8 + batch.vectorBytes))
        }
    }
}

/// At most one `Insert` in flight per 2.x partition, so that after a kill each partition has at
/// most one batch whose fate is unknown, which its row count decides exactly.
actor InsertLanes {
    private var lanes: [String: AsyncSemaphore] = [:]

    func lane(_ collection: String, _ partition: String) -> AsyncSemaphore {
        let key = "\(collection)\u{0}\(partition)"
        if let lane = lanes[key] { return lane }
        let lane = AsyncSemaphore(1)
        lanes[key] = lane
        return lane
    }
}

extension MigrationError {
    /// Whether the server answered and refused the request, so none of its rows can be in. No
    /// answer (unreachable, a deadline, a reset, an unknown failure on the way) proves nothing.
    var provesNothingApplied: Bool {
        guard let kind = targetKind else { return false }
        return [.refused, .busy, .authentication, .databaseMissing, .notLoaded, .collectionMissing, .schemaMismatch, .unsupported].contains(kind)
    }
}
