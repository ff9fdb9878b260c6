import Foundation

/// The life of one segment in a migration, persisted in the journal (see `SegmentRecord.apply`
/// for the allowed transitions). A rerun reads it back and continues from each segment's phase.
public enum SegmentPhase: String, Codable, Sendable, CaseIterable {
    case pending
    case staged
    case importing
    case imported
    /// Staging failed (no files) or the import failed (files and task id kept).
    case failed
    /// Insert mode: its live rows are being sent with `Insert`, batch after batch
    /// (`insertedRows` acknowledged; `insertBatch` in flight).
    case inserting
}

/// Insert mode: the batch of live rows `[from, from + rows)` sent and not yet acknowledged.
public struct InsertBatch: Codable, Sendable, Equatable {
    public var from: Int64
    public var rows: Int64

    public init(from: Int64, rows: Int64) {
        self.from = from
        self.rows = rows
    }
}

/// One staged `.npy` file as the journal remembers it.
public struct StagedFileRecord: Codable, Sendable, Equatable {
    public var path: String
    public var bytes: Int64
    /// `Checksum64` hex of the whole file; `header:<hex>` in journals written before every
    /// kernel-copied file got a full checksum (only the header can be checked then).
    public var checksum: String

    public init(path: String, bytes: Int64, checksum: String) {
        self.path = path
        self.bytes = bytes
        self.checksum = checksum
    }
}

/// One segment's record in the journal: a pure value that changes only through `apply(_:)`.
/// The JSON form is the journal's version-1 record (same keys as before).
public struct SegmentRecord: Codable, Sendable, Equatable {
    /// `<collection>/<partition>/<segment>`.
    public let key: String
    public private(set) var phase: SegmentPhase
    public private(set) var files: [StagedFileRecord]
    public private(set) var rows: Int64
    public private(set) var deletedRows: Int64
    /// What the source looked like when staged; a different source means stage again.
    public private(set) var sourceFingerprint: String
    public private(set) var importTask: Int64?
    public private(set) var failure: String?
    /// Insert mode: the live rows (a prefix, in file order) the server acknowledged.
    public private(set) var insertedRows: Int64?
    /// Insert mode: the batch sent whose answer is not recorded; a rerun asks the target
    /// whether it was applied before anything is sent again.
    public private(set) var insertBatch: InsertBatch?
    /// The boot (`BootId`) in which the staged files were written, or last read back whole and
    /// found as written. Files are not fsynced, so in any other boot they are unverified; nil
    /// (journals written before this key) is an unknown boot, as unverified.
    public private(set) var stagedBoot: String?
    /// `target.cleanup`: the staged files were removed after the import and the row counts were
    /// checked (`files` still lists them, for the record). Nil in journals before this key.
    public private(set) var filesRemoved: Bool?
    public private(set) var updated: Date

    /// A segment nothing has happened to yet.
    public init(key: String, now: Date = Date()) {
        self.key = key
        phase = .pending
        files = []
        rows = 0
        deletedRows = 0
        sourceFingerprint = ""
        importTask = nil
        failure = nil
        updated = now
    }
}

/// What happened to one segment; the only way its journal record changes (`SegmentRecord.apply`).
public enum SegmentEvent: Sendable, Equatable, CustomStringConvertible {
    /// `dump` wrote both NumPy files completely.
    case staged(files: [StagedFileRecord], rows: Int64, deletedRows: Int64, fingerprint: String, boot: String? = nil)
    /// A run in another boot read the staged files back whole and found them as written: they
    /// are on disk, and this boot is recorded so later runs of the same boot trust them.
    case stagedFilesChecked(boot: String?)
    /// `dump` could not write the files (they are gone or incomplete).
    case stageFailed(reason: String, fingerprint: String)
    /// `load` is about to call `Import` (recorded before the call, so a kill leaves a trace).
    case importRequested
    /// `Import` answered with a task id.
    case importTaskRecorded(Int64)
    /// The task completed: the rows are in Milvus.
    case importCompleted
    /// The task failed, or it is proven that it persisted no row (the task id is kept).
    case importFailed(reason: String)
    /// `target.cleanup`: the staged files of an imported segment, whose counts were checked,
    /// were removed.
    case stagedFilesRemoved
    /// Insert mode: sending this segment's live rows begins (nothing was staged).
    case insertStarted(rows: Int64, deletedRows: Int64, fingerprint: String)
    /// Insert mode: the batch starting at live row `from` is about to be sent (recorded first,
    /// so a kill leaves a trace of the batch whose fate is unknown).
    case insertSending(from: Int64, rows: Int64)
    /// Insert mode: the server acknowledged the batch in flight.
    case insertAcknowledged
    /// Insert mode: the batch in flight is known not to be applied (the server refused it, or a
    /// rerun proved it persisted no row); it is sent again.
    case insertNotApplied(reason: String)
    /// Insert mode: every live row was acknowledged.
    case insertCompleted

    public var description: String {
        switch self {
        case .staged: return "staged"
        case .stagedFilesChecked: return "staged files checked"
        case .stagedFilesRemoved: return "staged files removed"
        case .stageFailed: return "stage failed"
        case .importRequested: return "import requested"
        case .importTaskRecorded(let id): return "import task \(id) recorded"
        case .importCompleted: return "import completed"
        case .importFailed: return "import failed"
        case .insertStarted: return "insert started"
        case .insertSending(let from, let rows): return "insert of rows \(from)..<\(from + rows) sent"
        case .insertAcknowledged: return "insert acknowledged"
        case .insertNotApplied: return "insert not applied"
        case .insertCompleted: return "insert completed"
        }
    }
}

/// The next step a job takes for a segment, decided from its record alone.
public enum SegmentStep: Sendable, Equatable {
    /// Needs (re)staging before it can be imported: never staged, or its staging failed.
    case stage
    /// Staged (or its last import failed, so no row is in Milvus): check the files, then import.
    case importStaged
    /// An `Import` was requested and its answer never recorded: find the task on the server
    /// before anything else; a blind second `Import` could insert the rows twice.
    case findTask
    /// Wait for this task (it may have persisted rows).
    case poll(Int64)
    /// Insert mode: send the live rows from this one on.
    case insert(from: Int64)
    /// Insert mode: a batch was sent and its answer never recorded: ask the target whether it
    /// was applied before sending anything (a blind resend could insert its rows twice).
    case resolveInsert(InsertBatch)
    /// The rows are in Milvus.
    case done
}

extension SegmentRecord {
    /// The state machine of a segment (a pure value; `JobJournal` persists it after each event).
    /// Its diagram and its whole transition table are in docs/ARCHITECTURE.md ("The journal");
    /// `JournalTransitionTableTests` applies every event to every state and checks the result
    /// against that table, so the two cannot drift apart.
    ///
    /// `importing`, `inserting` and `imported` never go back to `staged`, `pending` or
    /// `failed(dump)`: their rows are (or may be) in Milvus, so a second import would duplicate
    /// them. Only `importFailed` (the server said the task failed, or it was proven that it
    /// persisted no row) leaves `importing`, and it keeps the task id. Every event the table does
    /// not list is an illegal transition: it throws `MigrationError.journalTransition` and
    /// changes nothing.
    public mutating func apply(_ event: SegmentEvent, at now: Date = Date()) throws {
        func illegal() -> MigrationError {
            .journalTransition(segment: key, phase: phaseDescription, event: event.description)
        }
        switch (phase, event) {
        case (.pending, .staged(let files, let rows, let deleted, let fingerprint, let boot)),
             (.staged, .staged(let files, let rows, let deleted, let fingerprint, let boot)),
             (.failed, .staged(let files, let rows, let deleted, let fingerprint, let boot)):
            phase = .staged
            self.files = files
            self.rows = rows
            deletedRows = deleted
            sourceFingerprint = fingerprint
            stagedBoot = boot
            failure = nil
        case (.staged, .stagedFilesChecked(let boot)) where !files.isEmpty,
             (.failed, .stagedFilesChecked(let boot)) where !files.isEmpty:
            stagedBoot = boot
        case (.imported, .stagedFilesRemoved) where !files.isEmpty:
            filesRemoved = true
        case (.pending, .stageFailed(let reason, let fingerprint)),
             (.staged, .stageFailed(let reason, let fingerprint)),
             (.failed, .stageFailed(let reason, let fingerprint)):
            phase = .failed
            files = []
            rows = 0
            deletedRows = 0
            sourceFingerprint = fingerprint
            stagedBoot = nil
            failure = reason
        case (.staged, .importRequested) where !files.isEmpty, (.failed, .importRequested) where !files.isEmpty:
            phase = .importing
            importTask = nil
            failure = nil
        case (.importing, .importRequested) where importTask == nil:
            break
        case (.importing, .importTaskRecorded(let id)) where importTask == nil || importTask == id:
            importTask = id
        case (.importing, .importCompleted):
            phase = .imported
            failure = nil
        case (.importing, .importFailed(let reason)):
            phase = .failed
            failure = reason
        case (.pending, .insertStarted(let rows, let deleted, let fingerprint)),
             (.staged, .insertStarted(let rows, let deleted, let fingerprint)),
             (.failed, .insertStarted(let rows, let deleted, let fingerprint)):
            // From `failed` only when no row can be in Milvus (a dump failure or a failed import).
            phase = .inserting
            self.rows = rows
            deletedRows = deleted
            sourceFingerprint = fingerprint
            insertedRows = 0
            insertBatch = nil
            failure = nil
        case (.inserting, .insertSending(let from, let count)) where insertBatch == nil && from == (insertedRows ?? 0) && count > 0 && from + count <= rows:
            insertBatch = InsertBatch(from: from, rows: count)
        case (.inserting, .insertAcknowledged) where insertBatch != nil:
            insertedRows = (insertedRows ?? 0) + insertBatch!.rows
            insertBatch = nil
            failure = nil
        case (.inserting, .insertNotApplied(let reason)) where insertBatch != nil:
            insertBatch = nil
            failure = reason
        case (.inserting, .insertCompleted) where insertBatch == nil && (insertedRows ?? 0) == rows:
            phase = .imported
            failure = nil
        case (.imported, .importCompleted):
            break
        default:
            throw illegal()
        }
        updated = now
    }

    /// Whether an import of this segment may have put rows into Milvus.
    public var mayHaveImportedRows: Bool { [.importing, .inserting, .imported].contains(phase) }

    /// The next step for this segment.
    public var step: SegmentStep {
        switch phase {
        case .pending: return .stage
        case .staged: return .importStaged
        case .failed: return files.isEmpty ? .stage : .importStaged
        case .importing: return importTask.map { .poll($0) } ?? .findTask
        case .inserting: return insertBatch.map { .resolveInsert($0) } ?? .insert(from: insertedRows ?? 0)
        case .imported: return .done
        }
    }

    /// Whether `dump` may rewrite this segment's files: never once an import may have read them
    /// into Milvus (a re-dump could only lead to a second import).
    public var mayRestage: Bool { !mayHaveImportedRows }

    /// Whether the staged files are in the staging area: recorded, and not removed by
    /// `target.cleanup` after the import.
    public var hasStagedFiles: Bool { !files.isEmpty && filesRemoved != true }

    /// Whether the staged files were written (or last found whole) in another boot than
    /// `current`, or in an unknown one: they were not fsynced, so they may not be as written.
    public func stagedFilesUnverified(currentBoot current: String? = BootId.current) -> Bool {
        BootId.isUnverified(stagedBoot, current: current)
    }

    var phaseDescription: String {
        switch phase {
        case .failed: return files.isEmpty ? "failed (dump)" : "failed (import)"
        case .importing: return importTask.map { "importing (task \($0))" } ?? "importing (task unknown)"
        case .inserting: return "inserting (\(insertedRows ?? 0) of \(rows) rows acknowledged\(insertBatch.map { ", rows \($0.from)..<\($0.from + $0.rows) in flight" } ?? ""))"
        default: return phase.rawValue
        }
    }
}
