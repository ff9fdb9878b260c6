import Foundation

/// What `dump` did, per collection: the summary table and the `--report` JSON.
public struct DumpReport: Sendable {
    public struct Collection: Sendable {
        public var collection: String
        public var segments = 0
        public var skippedSegments = 0
        public var rows: Int64 = 0
        public var deletedRows: Int64 = 0
        public var bytes: Int64 = 0
        /// Wall-clock span from the first of its segments starting to the last finishing.
        public var firstStart: Date?
        public var lastEnd: Date?
        public var seconds: Double { firstStart.map { (lastEnd ?? $0).timeIntervalSince($0) } ?? 0 }
    }

    public var collections: [Collection]
    public var seconds: Double
    public var stagingLocation: String
    public var removedLeftovers: Int
}

/// What `load` or `start` did, per collection: the summary table and the `--report` JSON.
public struct LoadReport: Sendable {
    public struct Collection: Sendable {
        public var source: String
        public var target: String
        public var segments = 0
        public var alreadyImported = 0
        public var rowsImported: Int64 = 0
        public var expectedRows: Int64 = 0
        public var actualRows: Int64 = 0
        public var skipped = false
        public var tasks: [Int64] = []
        public var notes: [String] = []
    }

    public var collections: [Collection]
    public var seconds: Double
    public var endpoint: String
    /// A sharded run: the rows are this shard's, the collections hold the other shards' too.
    public var shard: ShardSelection? = nil
    /// `target.cleanup`: staged files removed after their import and the counts (nil: cleanup off).
    public var cleanup: Cleanup?
    /// Insert mode: the rows were sent with `Insert`, not imported from staged files.
    public var inserted = false
    /// The target keeps one row per primary key (Milvus Lite): the counts compared are the
    /// source's distinct ids, per collection only.
    public var countsDistinctIds = false

    public struct Cleanup: Sendable, Equatable {
        public var segments = 0
        public var files = 0
        /// Space given back.
        public var bytes: Int64 = 0
    }
}

/// The one results aggregator of the pipeline: the steps report what happened to each segment
/// and collection (serially, in completion order), and the reports are built from it.
public struct RunTally: Sendable {
    private var order: [String] = []
    private var dumped: [String: DumpReport.Collection] = [:]
    private var loaded: [String: LoadReport.Collection] = [:]
    private var cleanup: LoadReport.Cleanup?

    /// `collections`: source names with their 2.x names, in report order.
    public init(_ collections: [(source: String, target: String)]) {
        for (source, target) in collections {
            order.append(source)
            dumped[source] = DumpReport.Collection(collection: source)
            loaded[source] = LoadReport.Collection(source: source, target: target)
        }
    }

    /// A unit's staging ended (`worked`: converted now; otherwise found staged before); `segments`
    /// is how many segments it holds (more than one when grouped).
    public mutating func staged(collection: String, segments: Int = 1, rows: Int64, deletedRows: Int64, bytes: Int64, worked: Bool,
                                started: Date, ended: Date = Date()) {
        var c = dumped[collection]!
        c.firstStart = min(c.firstStart ?? started, started)
        c.lastEnd = ended
        if worked { c.segments += segments } else { c.skippedSegments += segments }
        c.rows += rows
        c.deletedRows += deletedRows
        c.bytes += bytes
        dumped[collection] = c
    }

    /// A unit to import was counted (load counts them all before importing).
    public mutating func segmentToLoad(collection: String, segments: Int = 1) {
        loaded[collection]!.segments += segments
    }

    /// A unit's rows are in Milvus: imported `now` (with `rows`) or by an earlier run.
    public mutating func imported(collection: String, segments: Int = 1, rows: Int64, task: Int64?, now: Bool) {
        if now { loaded[collection]!.rowsImported += rows } else { loaded[collection]!.alreadyImported += segments }
        if let task { loaded[collection]!.tasks.append(task) }
    }

    /// The collection exists and is left alone (`onExisting: skip`).
    public mutating func skipped(collection: String) {
        loaded[collection]!.skipped = true
        loaded[collection]!.notes.append("exists; skipped (onExisting: skip)")
    }

    public func isSkipped(_ collection: String) -> Bool { loaded[collection]?.skipped ?? false }

    public mutating func counted(collection: String, expected: Int64, actual: Int64) {
        loaded[collection]!.expectedRows = expected
        loaded[collection]!.actualRows = actual
    }

    /// `target.cleanup` ran and removed these staged files.
    public mutating func cleanedUp(segments: Int, files: Int, bytes: Int64) {
        var c = cleanup ?? LoadReport.Cleanup()
        c.segments += segments
        c.files += files
        c.bytes += bytes
        cleanup = c
    }

    public mutating func note(collection: String, _ notes: [String]) {
        loaded[collection]!.notes += notes
    }

    public func dumpReport(seconds: Double, stagingLocation: String, removedLeftovers: Int) -> DumpReport {
        DumpReport(collections: order.map { dumped[$0]! }, seconds: seconds, stagingLocation: stagingLocation, removedLeftovers: removedLeftovers)
    }

    public func loadReport(seconds: Double, endpoint: String) -> LoadReport {
        LoadReport(collections: order.map { loaded[$0]! }, seconds: seconds, endpoint: endpoint, cleanup: cleanup)
    }
}

extension DumpReport {
    public var summary: String {
        var table = TextTable(headers: ["collection", "segments", "skipped (done before)", "rows", "deleted rows dropped", "staged bytes", "time"], numeric: [1, 2, 3, 4, 5, 6])
        for c in collections {
            table.add([c.collection, String(c.segments), String(c.skippedSegments), Format.count(c.rows), Format.count(c.deletedRows),
                       Format.bytes(c.bytes), String(format: "%.1f s", c.seconds)])
        }
        let rows = collections.reduce(Int64(0)) { $0 + $1.rows }
        return table.render() + "\n\nDumped \(Format.count(rows)) rows to \(stagingLocation) in \(String(format: "%.1f", seconds)) s."
    }
}

extension DumpReport {
    public var json: JSONValue {
        .object([
            ("staging", .string(stagingLocation)),
            ("seconds", .double(seconds)),
            ("removedLeftovers", .integer(removedLeftovers)),
            ("collections", .array(collections.map { c in
                .object([("collection", .string(c.collection)), ("segments", .integer(c.segments)),
                         ("skippedSegments", .integer(c.skippedSegments)), ("rows", .int(c.rows)),
                         ("deletedRowsSkipped", .int(c.deletedRows)), ("stagedBytes", .int(c.bytes)), ("seconds", .double(c.seconds))])
            })),
        ])
    }
}

extension LoadReport {
    public var summary: String {
        let expected = countsDistinctIds ? "source distinct ids" : "source live rows"
        let rowHeaders = shard == nil ? ["rows in Milvus", expected] : ["shard rows found", "shard live rows"]
        let verb = inserted ? "inserted" : "imported"
        var table = TextTable(headers: ["collection", "2.x collection", "segments", "\(verb) now", "\(verb) before"] + rowHeaders + ["result"],
                              numeric: [2, 3, 4, 5, 6])
        for c in collections {
            let result = c.skipped ? "skipped" : (c.actualRows == c.expectedRows ? "ok" : "MISMATCH")
            table.add([c.source, c.target, String(c.segments), String(c.segments - c.alreadyImported), String(c.alreadyImported),
                       Format.count(c.actualRows), Format.count(c.expectedRows), result])
        }
        var out = table.render()
        for c in collections where !c.notes.isEmpty { out += "\n  \(c.target): \(c.notes.joined(separator: "; "))" }
        let imported = collections.reduce(0) { $0 + $1.segments - $1.alreadyImported }
        if countsDistinctIds {
            out += "\n  The target keeps one row per primary key: its counts are compared with the source's distinct ids, per collection (partitions are not compared)."
        }
        out += "\n\n" + (imported == 0 ? (inserted ? "Nothing to insert: every segment was inserted by an earlier run. "
                                                     : "Nothing to import: every segment was imported by an earlier run. ") : "")
        if let shard {
            out += "Shard \(shard): every row this shard imported is in Milvus; the collections also hold the other shards' rows, so run verify once every shard is done. "
        } else {
            out += "Row counts match the source. "
        }
        out += "Milvus at \(endpoint), \(String(format: "%.1f", seconds)) s."
        if let cleanup {
            out += cleanup.files == 0
                ? "\nCleanup: no staged files left to remove."
                : "\nCleanup: removed \(cleanup.files) staged files of \(cleanup.segments) imported segments, \(Format.bytes(cleanup.bytes)) given back."
        }
        return out
    }
}

extension LoadReport {
    /// The `--report` JSON: per collection and partition the source rows, deleted rows skipped,
    /// target rows, segments, import task ids, duration and notes.
    /// With `target.cleanup`, also what it removed (`cleanup`).
    public func json(plan: MigrationPlan?) -> JSONValue {
        var members: [(String, JSONValue)] = [("endpoint", .string(endpoint)), ("seconds", .double(seconds)), ("shard", .optional(shard?.description)),
                                              ("mode", .string(inserted ? "insert" : "import")),
                                              ("rowRule", .string(countsDistinctIds ? "onePerPrimaryKey" : "everyRow"))]
        if let cleanup {
            members.append(("cleanup", .object([("segments", .integer(cleanup.segments)), ("files", .integer(cleanup.files)),
                                                ("bytesFreed", .int(cleanup.bytes))])))
        }
        members.append(("collections", .array(collections.map { c in
            let planned = plan?.collections.first { $0.source.name == c.source }
            var fields: [(String, JSONValue)] = [
                ("collection", .string(c.source)),
                ("target", .string(c.target)),
                ("skipped", .bool(c.skipped)),
                ("segments", .integer(c.segments)),
                ("importedNow", .integer(c.segments - c.alreadyImported)),
                ("importedBefore", .integer(c.alreadyImported)),
                ("rowsImported", .int(c.rowsImported)),
                ("sourceRows", .int(c.expectedRows)),
                ("targetRows", .int(c.actualRows)),
                ("importTasks", .array(c.tasks.sorted().map { .int($0) })),
                ("notes", .array(c.notes.map { .string($0) })),
            ]
            if let planned {
                fields.append(("deletedRowsSkipped", .int(planned.deletedRows)))
                fields.append(("partitions", .array(planned.partitions.map { p in
                    .object([("name", .string(p.source.name)), ("tag", .optional(p.source.tag)), ("sourceRows", .int(p.liveRows)),
                             ("deletedRowsSkipped", .int(p.deletedRows)), ("segments", .integer(p.segments.count)),
                             ("stagedBytes", .int(p.stagedBytes(planned.source)))])
                })))
            }
            return .object(fields)
        })))
        return .object(members)
    }
}
