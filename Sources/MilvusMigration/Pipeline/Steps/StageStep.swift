import Foundation
import Logging

/// Step 1, stage: one live segment (or group of segments) → its two NumPy files in the staging
/// area, journaled.
/// A segment the journal and the files show staged intact is skipped; a segment whose rows are
/// (or may be) in Milvus is never staged again, since a re-dump could only lead to a second import.
struct StageStep: Sendable {
    var staging: any StagingArea
    var journal: JobJournal
    var converter: SegmentConverter
    var progress: ProgressReporter
    /// This boot (`BootId.current`); tests pass another to act as a run after a reboot.
    var currentBoot: String? = BootId.current
    let logger = Logger(label: "milvus-migration.dump")

    init(source: any SourceStorage, staging: any StagingArea, journal: JobJournal, bufferBytes: Int, progress: ProgressReporter) {
        self.staging = staging
        self.journal = journal
        self.converter = SegmentConverter(source: source, staging: staging, bufferBytes: bufferBytes)
        self.progress = progress
    }

    /// Stages `unit` unless already staged intact. Kept files are also read back and compared
    /// with their recorded checksums with `checkContent` (a resume about to import them) and
    /// whenever they were staged in another boot than this one (they were not fsynced: a crash
    /// may have lost or torn them); in the same boot the page cache holds what was written, and
    /// size and header suffice. Returns the record and whether work was done.
    func run(_ unit: SegmentUnit, checkContent: Bool = false) async throws -> (SegmentRecord, worked: Bool) {
        let layouts = unit.layouts
        guard layouts.count == unit.members.count else { preconditionFailure("staging needs the source layout of \(unit)") }
        if let record = await journal.record(unit.key) {
            if !record.mayRestage {
                if record.sourceFingerprint != unit.fingerprint {
                    logger.warning("segment \(unit.key): the source changed since it was imported; it is not imported again (re-migrate into a new collection to pick up the change)")
                }
                progress.addBytes(unit.payloadBytes)
                MigrationMetrics.unitSkipped(.stage, collection: unit.collection.name)
                return (record, false)
            }
            if record.step == .importStaged, record.sourceFingerprint == unit.fingerprint, try await intact(record, unit: unit) {
                let unverified = record.stagedFilesUnverified(currentBoot: currentBoot)
                if !checkContent && !unverified {
                    progress.addBytes(unit.payloadBytes)
                    MigrationMetrics.unitSkipped(.stage, collection: unit.collection.name)
                    return (record, false)
                }
                if let problem = try await StagedFileCheck.firstProblem(record, staging: staging) {
                    logger.warning("\(problem.description); staging it again")
                } else {
                    // Read back whole after a reboot: on disk, so trusted for the rest of this boot.
                    let checked = unverified ? try await journal.apply(.stagedFilesChecked(boot: currentBoot), to: unit.key) : record
                    progress.addBytes(unit.payloadBytes)
                    MigrationMetrics.unitSkipped(.stage, collection: unit.collection.name)
                    return (checked, false)
                }
            }
        }
        do {
            let files = try await converter.convert(layouts, collection: unit.collection, idPath: unit.idPath,
                                                    vectorPath: unit.vectorPath, progress: { progress.addBytes($0) })
            let record = try await journal.apply(.staged(files: files, rows: unit.liveRows, deletedRows: layouts.reduce(0) { $0 + Int64($1.deleted.count) },
                                                         fingerprint: unit.fingerprint, boot: currentBoot), to: unit.key)
            MigrationMetrics.staged(collection: unit.collection.name, rows: record.rows, bytes: record.files.reduce(0) { $0 + $1.bytes })
            return (record, true)
        } catch let error as MigrationError {
            if case .journalTransition = error { throw error }
            // The segment's own error is what the user must see: when recording the failure fails
            // too (a full disk fails both), the journal keeps the previous state, which a rerun
            // re-checks anyway, and the second error only goes to the log.
            do {
                try await journal.apply(.stageFailed(reason: error.description, fingerprint: unit.fingerprint), to: unit.key)
            } catch {
                logger.warning("segment \(unit.key): could not record the failure in the journal: \(error)")
            }
            throw error
        } catch is CancellationError {
            throw MigrationError.interrupted
        }
    }

    /// Whether a journaled segment's files are still there, complete, with the expected shape.
    func intact(_ record: SegmentRecord, unit: SegmentUnit) async throws -> Bool {
        let rows = unit.liveRows
        let expected = [(unit.idPath, NumPyHeader.ids(rows: rows)),
                        (unit.vectorPath, NumPyHeader.vectors(rows: rows, kind: unit.collection.vectorKind, dimension: unit.collection.dimension))]
        guard record.files.map(\.path) == expected.map(\.0) else { return false }
        for ((path, header), file) in zip(expected, record.files) {
            guard let size = try await staging.size(of: path), size == file.bytes, size == header.fileSize else { return false }
            let prefix = try await staging.readPrefix(path, count: header.encoded().count)
            guard let parsed = try? NumPyFile.parse(prefix, file: path), parsed.header == header, !parsed.fortranOrder else { return false }
        }
        return true
    }
}
