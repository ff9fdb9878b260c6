import Foundation
import Logging

/// Before anything new is imported: settles the imports an earlier run left open (`importing`
/// in the journal). Every change goes through the journal's state machine, so a segment whose
/// rows may be in Milvus is never imported a second time.
struct ReconcileStep: Sendable {
    var target: any MigrationTarget
    var staging: any StagingArea
    var journal: JobJournal
    var options: PipelineOptions
    let logger = Logger(label: "milvus-migration.load")

    /// Settles every segment an earlier run left in `importing`, before anything new is imported:
    /// finds the task of a request whose answer was lost, waits for the tasks that still run, and
    /// records their outcome. A task the server no longer knows, no task at all, or tasks that
    /// all stopped progressing (a server restart leaves tasks `Started` for good) are decided from
    /// the row counts: Milvus's partition count against the rows of the segments the journal
    /// knows are imported. A case the counts cannot decide is an error, never a guess.
    /// Insert mode: settles the batches an earlier run sent without recording the answer, before
    /// anything is sent. Where the target keeps every row they are decided from the partition
    /// counts like imports; where it keeps one row per primary key (Milvus Lite) they are simply
    /// sent again, which cannot duplicate a row.
    func resolveInserts(_ units: [SegmentUnit], rule: TargetCapabilities.RowRule) async throws {
        var open: [SegmentUnit] = []
        for unit in units {
            if let record = await journal.record(unit.key), case .resolveInsert = record.step { open.append(unit) }
        }
        guard !open.isEmpty else { return }
        logger.notice("settling \(open.count) insert batch(es) an earlier run left without an answer")
        switch rule {
        case .onePerPrimaryKey:
            for unit in open {
                try await journal.apply(.insertNotApplied(reason: "the target keeps one row per primary key: the batch is sent again, which cannot duplicate a row"), to: unit.key)
            }
        case .everyRow:
            try await decideFromCounts(open, all: units)
        }
    }

    func run(_ units: [SegmentUnit]) async throws {
        var open: [(unit: SegmentUnit, record: SegmentRecord)] = []
        for unit in units {
            guard let record = await journal.record(unit.key), record.phase == .importing else { continue }
            open.append((unit, record))
        }
        guard !open.isEmpty else { return }
        logger.notice("settling \(open.count) import(s) an earlier run left open")

        var listed: [String: [ImportTaskStatus]] = [:]
        for name in Set(open.map(\.unit.target)) { listed[name] = try await target.listImportTasks(collection: name) }
        var uncertain: [SegmentUnit] = []
        var lostAnswers: [SegmentUnit] = []
        var watching: [(SegmentUnit, SegmentRecord, Int64)] = []
        for (unit, record) in open {
            let files = Set(record.files.map { staging.importPath($0.path) })
            let tasks = listed[unit.target] ?? []
            if let id = record.importTask {
                if tasks.contains(where: { $0.id == id }) {
                    watching.append((unit, record, id))
                } else {
                    logger.notice("\(unit): import task \(id) is unknown to the server (forgotten after a restart?)")
                    uncertain.append(unit)
                }
            } else if let found = tasks.last(where: { Set($0.files) == files }) {
                logger.notice("\(unit): found import task \(found.id) started by an earlier run")
                try await journal.apply(.importTaskRecorded(found.id), to: unit.key)
                watching.append((unit, record, found.id))
            } else {
                uncertain.append(unit)
                lostAnswers.append(unit)
            }
        }

        // Wait for the known tasks; if none of them changes for `stallTimeout`, they are stalled.
        var stall = StallWatch(timeout: options.stallTimeout)
        var delay = 0.2
        while !watching.isEmpty {
            var still: [(SegmentUnit, SegmentRecord, Int64)] = []
            for (unit, record, id) in watching {
                let status = try await target.importState(id, subject: unit.description)
                switch status.state {
                case .completed:
                    try ImportStep.requireRows(status, task: id, record: record, unit: unit)
                    try await journal.apply(.importCompleted, to: unit.key)
                case .failed:
                    let reason = status.failedReason.isEmpty ? "import task \(id) failed" : status.failedReason
                    logger.notice("\(unit): import task \(id) of an earlier run failed (\(reason)); it is imported again")
                    try await journal.apply(.importFailed(reason: reason), to: unit.key)
                default:
                    stall.saw(status)
                    still.append((unit, record, id))
                }
            }
            watching = still
            guard !watching.isEmpty else { break }
            if stall.stalled {
                logger.notice("import task(s) \(watching.map { String($0.2) }.joined(separator: ", ")) made no progress for \(Int(options.stallTimeout)) s (stalled by a server restart?); deciding from the row counts")
                uncertain += watching.map { $0.0 }
                break
            }
            try await Task.sleep(for: .seconds(delay))
            delay = min(delay * 1.5, 2)
        }
        guard !uncertain.isEmpty else { return }
        let known = Set(await journaledTasks(open.map(\.unit)))
        try await waitForTasksListingNoFiles(lostAnswers, listed: listed, known: known)
        try await decideFromCounts(uncertain, all: units)
    }

    /// The task ids the journal now holds for `units` (found in the listing since the start).
    func journaledTasks(_ units: [SegmentUnit]) async -> [Int64] {
        var ids: [Int64] = []
        for unit in units { if let id = await journal.record(unit.key)?.importTask { ids.append(id) } }
        return ids
    }

    /// Milvus 2.4+ may list import tasks without their files, so the task a lost `Import` answer
    /// started cannot be recognised, and while it runs its rows are not in the counts yet:
    /// deciding from the counts then would import the segment a second time. So before counting,
    /// wait until every unfinished task of those collections that lists no files, and that no
    /// journal record holds, has ended or made no progress for `stallTimeout`.
    func waitForTasksListingNoFiles(_ lost: [SegmentUnit], listed: [String: [ImportTaskStatus]], known: Set<Int64>) async throws {
        var waiting = Set(lost.map(\.target)).sorted().flatMap { name in
            (listed[name] ?? []).filter { $0.files.isEmpty && !$0.state.isFinal && !known.contains($0.id) }.map { (id: $0.id, collection: name) }
        }
        guard !waiting.isEmpty else { return }
        logger.notice("waiting for \(waiting.count) unfinished import task(s) the server lists without files (one may be an answer an earlier run lost) before counting rows")
        var stall = StallWatch(timeout: options.stallTimeout)
        var delay = 0.2
        while true {
            var still: [(id: Int64, collection: String)] = []
            for task in waiting {
                let status = try await target.importState(task.id, subject: "collection '\(task.collection)'")
                guard !status.state.isFinal else { continue }
                stall.saw(status)
                still.append(task)
            }
            waiting = still
            guard !waiting.isEmpty else { return }
            if stall.stalled {
                logger.notice("import task(s) \(waiting.map { String($0.id) }.joined(separator: ", ")) made no progress for \(Int(options.stallTimeout)) s; deciding from the row counts")
                return
            }
            try await Task.sleep(for: .seconds(delay))
            delay = min(delay * 1.5, 2)
        }
    }

    /// For each partition with segments whose import outcome is unknown: the rows Milvus has
    /// beyond those of the segments the journal knows are imported must be exactly the rows of
    /// one subset of the unknown segments; those are recorded imported, the others failed (no
    /// row in Milvus, so they are imported again). No subset or several → a clear error.
    func decideFromCounts(_ uncertain: [SegmentUnit], all: [SegmentUnit]) async throws {
        let targets = Array(Set(uncertain.map(\.target))).sorted()
        // The rows whose fate is unknown: a whole segment (import) or the batch in flight (insert).
        var rowsOf: [String: Int64] = [:]
        var inserting: Set<String> = []
        for unit in uncertain {
            let record = await journal.record(unit.key)
            if let batch = record?.insertBatch {
                rowsOf[unit.key] = batch.rows
                inserting.insert(unit.key)
            } else {
                rowsOf[unit.key] = record?.rows ?? 0
            }
        }
        // Flush is idempotent: right after a restart Milvus refuses it until its data node is
        // back ("FlushChannels" failed), so it is retried for a bounded time (~40 s).
        var attempt = 1
        while true {
            do {
                try await target.flush(targets)
                break
            } catch let error as MigrationError where attempt < 10 {
                logger.notice("flush before counting failed (\(error.description.prefix(200))); retrying (attempt \(attempt + 1) of 10)")
                MigrationMetrics.retry(.milvus, cause: "flush_refused")
                try await Task.sleep(for: .seconds(min(Double(attempt) * 1.5, 6)))
                attempt += 1
            }
        }
        let groups = Dictionary(grouping: uncertain) { "\($0.target)\u{0}\($0.partition.name)" }
        for key in groups.keys.sorted() {
            let members = groups[key]!.sorted { $0.key < $1.key }
            let name = members[0].target, partition = members[0].partition.name
            let own = await journal.collection(name)
            var known: Int64 = 0
            let actual: Int64
            if own?.createdByJob == true {
                actual = try await target.rowCount(collection: name, partition: partition)
                for unit in all where unit.target == name && unit.partition.name == partition {
                    if let r = await journal.record(unit.key) { known += Self.knownRows(r) }
                }
            } else {
                // Appending to a collection that had rows: only the collection count is ours to read,
                // so every other segment of it must be settled.
                actual = try await target.rowCount(collection: name) - (own?.rowsBefore ?? 0)
                for unit in all where unit.target == name {
                    if let r = await journal.record(unit.key) { known += Self.knownRows(r) }
                }
                guard groups.keys.filter({ $0.hasPrefix("\(name)\u{0}") }).count == 1 else {
                    throw MigrationError.target(.importUndecided, subject: "collection '\(name)'", message: "cannot tell which imports of an earlier run persisted rows (several partitions of a collection that had rows before); check the collection and remove \(staging.location)/\(journal.name) to start over")
                }
            }
            let extra = actual - known
            // A segment without live rows cannot duplicate anything: it is simply imported again.
            for unit in members where rowsOf[unit.key]! == 0 && !inserting.contains(unit.key) {
                try await journal.apply(.importFailed(reason: "outcome unknown; it has no rows, so it is imported again"), to: unit.key)
            }
            let group = members.filter { rowsOf[$0.key]! > 0 }
            guard !group.isEmpty else { continue }
            let rows = group.map { rowsOf[$0.key]! }
            let names = group.map(\.key).joined(separator: ", ")
            if let shard = options.shard {
                // The partition's count includes the other shards' rows, imported while this shard
                // was away and perhaps still being imported: no subset of this shard's segments can
                // be told from it.
                throw MigrationError.target(.importUndecided, subject: "collection '\(name)' partition '\(partition)'",
                    message: "shard \(shard) cannot tell whether the import(s) of \(names) (task outcome unknown after a server restart or a lost answer) persisted rows: the partition's row count (\(actual)) includes the other shards' rows; nothing was imported again. Check the partition once every shard has finished (verify --full)")
            }
            guard let mask = ReconcileStep.persistedSubset(rows: rows, extra: extra) else {
                throw MigrationError.target(.importUndecided, subject: "collection '\(name)' partition '\(partition)'",
                    message: "cannot tell whether the import(s) of \(names) (task outcome unknown after a server restart or a lost answer) persisted rows: Milvus has \(actual) rows there, the journal accounts for \(known), and no single combination of those segments' rows (\(rows.map(String.init).joined(separator: ", "))) explains the difference; nothing was imported again")
            }
            for (i, unit) in group.enumerated() {
                if inserting.contains(unit.key) {
                    let batch = await journal.record(unit.key)!.insertBatch!
                    if mask & (1 << i) != 0 {
                        logger.notice("\(unit): the batch of rows \(batch.from)..<\(batch.from + batch.rows) an earlier run sent is in Milvus (partition count); recorded as acknowledged")
                        try await journal.apply(.insertAcknowledged, to: unit.key)
                    } else {
                        logger.notice("\(unit): the batch of rows \(batch.from)..<\(batch.from + batch.rows) an earlier run sent is not in Milvus (partition count); it is sent again")
                        try await journal.apply(.insertNotApplied(reason: "the batch an earlier run sent persisted no row (partition '\(partition)' count)"), to: unit.key)
                    }
                    continue
                }
                if mask & (1 << i) != 0 {
                    logger.notice("\(unit): its rows are in Milvus (partition count); recorded as imported")
                    try await journal.apply(.importCompleted, to: unit.key)
                } else {
                    logger.notice("\(unit): none of its rows is in Milvus (partition count); it is imported again")
                    try await journal.apply(.importFailed(reason: "the import of an earlier run persisted no row (partition '\(partition)' count)"), to: unit.key)
                }
            }
        }
    }

    /// The rows of a segment the journal knows are in the target: all of an imported one, the
    /// acknowledged batches of one being inserted.
    static func knownRows(_ r: SegmentRecord) -> Int64 {
        switch r.phase {
        case .imported: return r.rows
        case .inserting: return r.insertedRows ?? 0
        default: return 0
        }
    }

    /// The one subset (as a bit mask over `rows`) whose sum is `extra`; nil when no subset or
    /// more than one does (or there are too many segments to tell).
    static func persistedSubset(rows: [Int64], extra: Int64) -> Int? {
        guard rows.count <= 16, extra >= 0 else { return nil }
        var found: Int?
        for mask in 0..<(1 << rows.count) {
            var sum: Int64 = 0
            for i in 0..<rows.count where mask & (1 << i) != 0 { sum += rows[i] }
            if sum == extra {
                if found != nil { return nil }
                found = mask
            }
        }
        return found
    }
}

/// Tasks watched for progress: stalled once none of them changed (state, rows, progress) for
/// `timeout` (a server restart leaves tasks `Started` for good).
struct StallWatch {
    let timeout: Double
    private var signatures: [Int64: String] = [:]
    private var lastChange = Date()

    init(timeout: Double) { self.timeout = timeout }

    mutating func saw(_ status: ImportTaskStatus) {
        let signature = "\(status.state) \(status.rows) \(status.progress)"
        if signatures[status.id] != signature {
            signatures[status.id] = signature
            lastChange = Date()
        }
    }

    var stalled: Bool { Date().timeIntervalSince(lastChange) >= timeout }
}
