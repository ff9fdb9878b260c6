import Foundation

/// The import of one segment and the settling of imports an earlier run left open. Every change
/// goes through the journal's state machine (`SegmentRecord.apply`), so a segment whose rows may
/// be in Milvus is never imported a second time.
extension LoadJob {
    /// Imports one segment: checks its staged files against their checksums, records the request,
    /// starts the task, records its id, polls it and records the outcome. A segment an earlier run
    /// left in `importing` must have been settled by `reconcile` first.
    func importSegment(_ unit: Unit, journal: JobJournal, checkFiles: Bool = true) async throws -> SegmentRecord {
        var record = await journal.record(unit.record.key) ?? unit.record
        let key = record.key
        let task: Int64
        switch record.step {
        case .done:
            return record
        case .stage:
            throw MigrationError.usage("segment \(key) is not staged (\(record.failure ?? "no files")); run dump first")
        case .findTask:
            throw MigrationError.target(subject: unit.subject, message: "an earlier run asked for its import and the answer was not recorded; rerun the command to settle it")
        case .poll(let known):
            task = known
        case .importStaged:
            if checkFiles { try await checkStagedFiles(record, journal: journal) }
            // Import into a missing collection stalls the server for ~53 s: check right before.
            guard try await client.hasCollection(unit.target) else {
                throw MigrationError.target(subject: unit.subject, message: "collection '\(unit.target)' disappeared from Milvus at \(client.endpoint) during the load")
            }
            record = try await journal.apply(.importRequested, to: key)
            let partition = unit.partition.isDefault ? nil : unit.partition.name
            // Not retried: if the answer is lost the next run finds the task (or decides from
            // the row counts) instead of importing blindly again.
            task = try await client.startImport(collection: unit.target, partition: partition,
                                                files: record.files.map { staging.importPath($0.path) }, subject: unit.subject)
            record = try await journal.apply(.importTaskRecorded(task), to: key)
        }
        let status = try await poll(task, unit: unit)
        switch status.state {
        case .completed:
            if status.rows != 0 && status.rows != record.rows {
                throw MigrationError.target(subject: unit.subject, message: "import task \(task) completed with \(status.rows) rows, expected \(record.rows)")
            }
            return try await journal.apply(.importCompleted, to: key)
        default:
            var reason = status.failedReason.isEmpty ? "import task \(task) failed" : status.failedReason
            if reason.contains("no such file") || reason.contains("does not exist") || reason.contains("failed to get file size") {
                reason += options.stagedLocally
                    ? " (Milvus must read the staged files from the same disk: with target.mode local its storage must be local and see \(staging.location); otherwise use target.mode remote with Milvus's own bucket)"
                    : " (the files must be in the bucket Milvus itself uses: target.remote.bucket must be Milvus's minio.bucketName)"
            }
            try await journal.apply(.importFailed(reason: reason), to: key)
            throw MigrationError.target(subject: unit.subject, message: "import into collection '\(unit.target)'\(unit.partition.isDefault ? "" : " partition '\(unit.partition.name)'") failed: \(reason)")
        }
    }

    /// Reads every staged file of `record` and compares it with the checksum recorded when it was
    /// written. On a mismatch the record goes back to "needs staging" (`stageFailed`) and the
    /// error names the file and tells to rerun dump.
    func checkStagedFiles(_ record: SegmentRecord, journal: JobJournal) async throws {
        try await StagedFileCheck.requireIntact(record, staging: staging, journal: journal)
    }

    /// Settles every segment an earlier run left in `importing`, before anything new is imported:
    /// finds the task of a request whose answer was lost, waits for the tasks that still run, and
    /// records their outcome. A task the server no longer knows, no task at all, or tasks that
    /// all stopped progressing (a server restart leaves tasks `Started` for good) are decided from
    /// the row counts: Milvus's partition count against the rows of the segments the journal
    /// knows are imported. A case the counts cannot decide is an error, never a guess.
    func reconcile(_ units: [Unit], journal: JobJournal) async throws {
        var open: [Unit] = []
        for var unit in units {
            guard let record = await journal.record(unit.record.key), record.phase == .importing else { continue }
            unit.record = record
            open.append(unit)
        }
        guard !open.isEmpty else { return }
        logger.notice("settling \(open.count) import(s) an earlier run left open")

        var listed: [String: [ImportTaskStatus]] = [:]
        for target in Set(open.map(\.target)) { listed[target] = try await client.listImportTasks(collection: target) }
        var uncertain: [Unit] = []
        var watching: [(Unit, Int64)] = []
        for unit in open {
            let files = Set(unit.record.files.map { staging.importPath($0.path) })
            let tasks = listed[unit.target] ?? []
            if let id = unit.record.importTask {
                if tasks.contains(where: { $0.id == id }) {
                    watching.append((unit, id))
                } else {
                    logger.notice("\(unit.subject): import task \(id) is unknown to the server (forgotten after a restart?)")
                    uncertain.append(unit)
                }
            } else if let found = tasks.last(where: { Set($0.files) == files }) {
                logger.notice("\(unit.subject): found import task \(found.id) started by an earlier run")
                try await journal.apply(.importTaskRecorded(found.id), to: unit.record.key)
                watching.append((unit, found.id))
            } else {
                uncertain.append(unit)
            }
        }

        // Wait for the known tasks; if none of them changes for `stallTimeout`, they are stalled.
        var signatures: [Int64: String] = [:]
        var lastChange = Date()
        var delay = 0.2
        while !watching.isEmpty {
            var still: [(Unit, Int64)] = []
            for (unit, id) in watching {
                let status = try await client.importState(id, subject: unit.subject)
                switch status.state {
                case .completed:
                    if status.rows != 0 && status.rows != unit.record.rows {
                        throw MigrationError.target(subject: unit.subject, message: "import task \(id) completed with \(status.rows) rows, expected \(unit.record.rows)")
                    }
                    try await journal.apply(.importCompleted, to: unit.record.key)
                case .failed:
                    let reason = status.failedReason.isEmpty ? "import task \(id) failed" : status.failedReason
                    logger.notice("\(unit.subject): import task \(id) of an earlier run failed (\(reason)); it is imported again")
                    try await journal.apply(.importFailed(reason: reason), to: unit.record.key)
                default:
                    let signature = "\(status.state) \(status.rows) \(status.progress)"
                    if signatures[id] != signature {
                        signatures[id] = signature
                        lastChange = Date()
                    }
                    still.append((unit, id))
                }
            }
            watching = still
            guard !watching.isEmpty else { break }
            if Date().timeIntervalSince(lastChange) >= options.stallTimeout {
                logger.notice("import task(s) \(watching.map { String($0.1) }.joined(separator: ", ")) made no progress for \(Int(options.stallTimeout)) s (stalled by a server restart?); deciding from the row counts")
                uncertain += watching.map { $0.0 }
                break
            }
            try await Task.sleep(for: .seconds(delay))
            delay = min(delay * 1.5, 2)
        }
        guard !uncertain.isEmpty else { return }
        try await decideFromCounts(uncertain, all: units, journal: journal)
    }

    /// For each partition with segments whose import outcome is unknown: the rows Milvus has
    /// beyond those of the segments the journal knows are imported must be exactly the rows of
    /// one subset of the unknown segments; those are recorded imported, the others failed (no
    /// row in Milvus, so they are imported again). No subset or several → a clear error.
    func decideFromCounts(_ uncertain: [Unit], all: [Unit], journal: JobJournal) async throws {
        let targets = Array(Set(uncertain.map(\.target))).sorted()
        // Flush is idempotent: right after a restart Milvus refuses it until its data node is
        // back ("FlushChannels" failed), so it is retried for a bounded time (~40 s).
        var attempt = 1
        while true {
            do {
                try await client.flush(targets)
                break
            } catch let error as MigrationError where attempt < 10 {
                logger.notice("flush before counting failed (\(error.description.prefix(200))); retrying (attempt \(attempt + 1) of 10)")
                try await Task.sleep(for: .seconds(min(Double(attempt) * 1.5, 6)))
                attempt += 1
            }
        }
        let groups = Dictionary(grouping: uncertain) { "\($0.target)\u{0}\($0.partition.name)" }
        for key in groups.keys.sorted() {
            let members = groups[key]!.sorted { $0.record.key < $1.record.key }
            let target = members[0].target, partition = members[0].partition.name
            let own = await journal.collection(target)
            var known: Int64 = 0
            let actual: Int64
            if own?.createdByJob == true {
                actual = try await client.rowCount(collection: target, partition: partition)
                for unit in all where unit.target == target && unit.partition.name == partition {
                    if let r = await journal.record(unit.record.key), [.imported, .verified].contains(r.phase) { known += r.rows }
                }
            } else {
                // Appending to a collection that had rows: only the collection count is ours to read,
                // so every other segment of it must be settled.
                actual = try await client.rowCount(collection: target) - (own?.rowsBefore ?? 0)
                for unit in all where unit.target == target {
                    if let r = await journal.record(unit.record.key), [.imported, .verified].contains(r.phase) { known += r.rows }
                }
                guard groups.keys.filter({ $0.hasPrefix("\(target)\u{0}") }).count == 1 else {
                    throw MigrationError.target(subject: "collection '\(target)'", message: "cannot tell which imports of an earlier run persisted rows (several partitions of a collection that had rows before); check the collection and remove \(staging.location)/\(JobJournal.fileName) to start over")
                }
            }
            let extra = actual - known
            // A segment without live rows cannot duplicate anything: it is simply imported again.
            for unit in members where unit.record.rows == 0 {
                try await journal.apply(.importFailed(reason: "outcome unknown; it has no rows, so it is imported again"), to: unit.record.key)
            }
            let group = members.filter { $0.record.rows > 0 }
            guard !group.isEmpty else { continue }
            let rows = group.map(\.record.rows)
            let names = group.map(\.record.key).joined(separator: ", ")
            guard let mask = LoadJob.persistedSubset(rows: rows, extra: extra) else {
                throw MigrationError.target(subject: "collection '\(target)' partition '\(partition)'",
                    message: "cannot tell whether the import(s) of \(names) (task outcome unknown after a server restart or a lost answer) persisted rows: Milvus has \(actual) rows there, the journal accounts for \(known), and no single combination of those segments' rows (\(rows.map(String.init).joined(separator: ", "))) explains the difference; nothing was imported again")
            }
            for (i, unit) in group.enumerated() {
                if mask & (1 << i) != 0 {
                    logger.notice("\(unit.subject): its rows are in Milvus (partition count); recorded as imported")
                    try await journal.apply(.importCompleted, to: unit.record.key)
                } else {
                    logger.notice("\(unit.subject): none of its rows is in Milvus (partition count); it is imported again")
                    try await journal.apply(.importFailed(reason: "the import of an earlier run persisted no row (partition '\(partition)' count)"), to: unit.record.key)
                }
            }
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
