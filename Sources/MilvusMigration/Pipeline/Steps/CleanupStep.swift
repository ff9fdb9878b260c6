import Logging

/// Step 4, cleanup (`target.cleanup: true`): removes the staged files of the segments whose
/// import completed, once `CountStep` found the row counts right (the caller runs it only then,
/// so a failed import or a count mismatch keeps every file for the rerun). Each removal is
/// journaled (`stagedFilesRemoved`); the record stays `imported`, so no rerun stages or imports
/// the segment again, and `verify` reads the source, not the staged files.
struct CleanupStep: Sendable {
    var staging: any StagingArea
    var journal: JobJournal
    let logger = Logger(label: "milvus-migration.load")

    /// What was given back.
    struct Removed: Sendable, Equatable {
        var segments = 0
        var files = 0
        var bytes: Int64 = 0
    }

    func run(_ units: [SegmentUnit]) async throws -> Removed {
        var removed = Removed()
        for unit in units {
            guard let record = await journal.record(unit.key), record.phase == .imported, record.hasStagedFiles else { continue }
            // Files first, then the record: a kill in between leaves a record whose files are
            // gone, and the next run's removal of missing files succeeds.
            try await staging.remove(record.files.map(\.path))
            try await journal.apply(.stagedFilesRemoved, to: unit.key)
            removed.segments += 1
            removed.files += record.files.count
            removed.bytes += record.files.reduce(0) { $0 + $1.bytes }
        }
        if removed.segments > 0 {
            logger.info("removed the staged files of \(removed.segments) imported segment(s) from \(staging.location)")
        }
        return removed
    }
}
