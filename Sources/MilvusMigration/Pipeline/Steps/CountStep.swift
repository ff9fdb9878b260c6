import Logging

/// Step 3, count: flushes the collections and compares Milvus's row counts, per collection and
/// (for collections this job created) per partition, with the source's live rows.
struct CountStep: Sendable {
    var target: any MigrationTarget
    var journal: JobJournal
    /// How the target keeps rows that share a primary key.
    var rule: TargetCapabilities.RowRule = .everyRow
    /// With `onePerPrimaryKey`: the distinct ids of each source collection's live rows.
    var distinctIds: [String: Int64] = [:]
    /// Sharded: the other shards import into the same collections at the same time, so only a
    /// lower bound can be checked here (`verify` checks the whole).
    var shard: ShardSelection?
    let logger = Logger(label: "milvus-migration.load")

    /// One collection's counts.
    struct Counts: Sendable {
        /// Rows Milvus should have: the live rows migrated plus the rows it had before (append).
        var expected: Int64
        var actual: Int64
        /// Sharded: the collection's rows of all shards at the time of the count.
        var collectionTotal: Int64?
    }

    /// `collections` are the source collections with their 2.x names; `units` every segment
    /// imported into them (the journal holds each one's live rows). Throws `mismatch` naming
    /// every difference; otherwise returns the counts per source collection name.
    func run(_ collections: [(source: SourceCollection, target: String)], units: [SegmentUnit]) async throws -> [String: Counts] {
        let targets = Array(Set(units.map(\.target))).sorted()
        // Nothing was imported (every collection empty or skipped): nothing to count.
        guard !targets.isEmpty else { return [:] }
        try await target.flush(targets)
        var rows: [String: Int64] = [:]
        for unit in units { rows[unit.key] = await journal.record(unit.key)?.rows ?? 0 }
        var counts: [String: Counts] = [:]
        var mismatches: [String] = []
        for (c, name) in collections {
            let own = await journal.collection(name)
            let before = own?.rowsBefore ?? 0
            let metaRows = c.partitions.reduce(Int64(0)) { $0 + $1.segments.reduce(0) { $0 + $1.rowCount } }
            let members = units.filter { $0.collection.name == c.name }
            let liveRows = members.reduce(Int64(0)) { $0 + rows[$1.key]! }
            let actual = try await target.rowCount(collection: name)
            if rule == .onePerPrimaryKey {
                // The target keeps one row per primary key: the distinct ids are what must be there,
                // and a row moves to the partition of its last write, so partitions are not compared.
                let distinct = distinctIds[c.name] ?? liveRows
                counts[c.name] = Counts(expected: before + distinct, actual: actual)
                if actual != before + distinct {
                    mismatches.append("collection '\(name)': the target has \(actual) rows, the source has \(distinct) distinct ids among its \(liveRows) live rows (the target keeps one row per primary key)\(before > 0 ? " (+\(before) before the load)" : "")")
                }
                if distinct != liveRows {
                    logger.notice("collection \(c.name): \(liveRows - distinct) live row(s) share an id with another; the target keeps one row per primary key, so it has \(distinct)")
                }
                continue
            }
            if shard != nil {
                // This shard's rows must be there; the rest belongs to the other shards.
                counts[c.name] = Counts(expected: before + liveRows, actual: min(actual, before + liveRows), collectionTotal: actual)
                if actual < before + liveRows {
                    mismatches.append("collection '\(name)': Milvus has \(actual) rows, fewer than the \(liveRows) live rows this shard (\(shard!)) imported\(before > 0 ? " (+\(before) before the load)" : "")")
                }
                continue
            }
            counts[c.name] = Counts(expected: before + liveRows, actual: actual)
            if actual != before + liveRows {
                mismatches.append("collection '\(name)': Milvus has \(actual) rows, the source has \(liveRows) live rows\(before > 0 ? " (+\(before) before the load)" : "")")
            }
            if metaRows != liveRows {
                logger.info("collection \(c.name): meta row_count sum \(metaRows) differs from the live rows \(liveRows) (duplicate deletion offsets in ≤1.1.0); the live rows were migrated")
            }
            guard own?.createdByJob == true else { continue }
            for p in c.partitions {
                let want = members.filter { $0.partition.name == p.name }.reduce(Int64(0)) { $0 + rows[$1.key]! }
                let got = try await target.rowCount(collection: name, partition: p.name)
                if got != want {
                    mismatches.append("collection '\(name)' partition '\(p.name)': Milvus has \(got) rows, the source has \(want)")
                }
            }
        }
        if let first = mismatches.first {
            throw MigrationError.target(.mismatch, subject: "verification", message: "row counts differ (\(mismatches.count)): \(first)\(mismatches.count > 1 ? "; " + mismatches.dropFirst().joined(separator: "; ") : "")")
        }
        return counts
    }
}
