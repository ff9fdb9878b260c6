import Foundation
import Logging

/// `load`: creates the 2.x collections and partitions, bulk-inserts every staged segment with one
/// `Import` each (a sliding window of `parallelism` jobs), and checks the row counts. Every step is
/// journaled so a rerun, after success, a failure or a kill, imports only segments that never
/// completed: no row is imported twice.
public struct LoadJob: Sendable {
    public struct Options: Sendable {
        public var parallelism = 2
        public var importTimeout: Double = 3600
        public var idField = "id"
        public var vectorField = "data"
        public var onExisting: MigrationConfig.OnExisting = .fail
        public var shards = 0
        public var renames: [String: String] = [:]
        public var collections: [String] = []
        public var createIndex = false
        public var loadCollection = false
        public var quiet = false
        /// Whether Milvus reads the staged files from a local disk (for the "file not found" hint).
        public var stagedLocally = true
        /// An import task left by an earlier run that shows no progress for this long (nor does
        /// any other such task) is taken as stalled (e.g. by a server restart) and decided from
        /// the row counts.
        public var stallTimeout: Double = 120

        public init() {}
    }

    public struct CollectionResult: Sendable {
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

    public struct Result: Sendable {
        public var collections: [CollectionResult]
        public var seconds: Double
        public var endpoint: String
    }

    public var staging: any StagingArea
    public var client: MilvusClient
    public var options: Options
    let logger = Logger(label: "milvus-migration.load")

    public init(staging: any StagingArea, client: MilvusClient, options: Options) {
        self.staging = staging
        self.client = client
        self.options = options
    }

    struct Unit: Sendable {
        var collection: SourceCollection
        var partition: SourcePartition
        var target: String
        var record: SegmentRecord
        var subject: String { "segment \(record.key)" }
    }

    public func run() async throws -> Result {
        let started = Date()
        guard let metaBytes = try await staging.readSmallFile("meta.json") else {
            throw MigrationError.usage("no dump found in \(staging.location) (meta.json is missing); run dump first")
        }
        let meta = try MetaJSON.decode(Data(metaBytes), origin: "\(staging.location)/meta.json").selecting(options.collections)
        if let problem = meta.diagnostics.errors.first { throw MigrationError.meta(source: meta.origin, message: problem.description) }
        let journal = try await JobJournal.open(staging)

        // Every segment must be staged, with the files the journal recorded.
        var units: [Unit] = []
        var results: [String: CollectionResult] = [:]
        for c in meta.collections {
            let target = options.renames[c.name] ?? c.name
            results[c.name] = CollectionResult(source: c.name, target: target)
            for p in c.partitions {
                for s in p.segments {
                    let key = "\(c.name)/\(p.name)/\(s.id)"
                    guard let record = await journal.record(key), record.phase != .pending, !record.files.isEmpty else {
                        throw MigrationError.usage("segment \(key) was not dumped (no staged files in \(staging.location)); run dump first")
                    }
                    units.append(Unit(collection: c, partition: p, target: target, record: record))
                }
            }
        }

        // Collections and partitions.
        for c in meta.collections {
            let target = results[c.name]!.target
            let proceed = try await prepare(c, target: target, journal: journal, units: units.filter { $0.collection.name == c.name })
            if !proceed {
                results[c.name]!.skipped = true
                results[c.name]!.notes.append("exists; skipped (onExisting: skip)")
            }
        }
        let active = units.filter { !results[$0.collection.name]!.skipped }
        for unit in active { results[unit.collection.name]!.segments += 1 }

        // Imports an earlier run left open: settled before anything new is imported.
        try await reconcile(active, journal: journal)
        var pending: [Unit] = []
        for var unit in active {
            if let current = await journal.record(unit.record.key) { unit.record = current }
            if [.imported, .verified].contains(unit.record.phase) {
                results[unit.collection.name]!.alreadyImported += 1
                if let t = unit.record.importTask { results[unit.collection.name]!.tasks.append(t) }
            } else {
                pending.append(unit)
            }
        }
        if pending.isEmpty && !active.isEmpty {
            logger.notice("every segment was imported by an earlier run; nothing to import")
        }

        let progress = ProgressReporter(title: "load", totalUnits: pending.count, totalBytes: 0, unitName: "imports", quiet: options.quiet || pending.isEmpty)
        progress.start()
        let failures = try await BoundedWindow.run(pending, width: options.parallelism) { unit in
            try await importSegment(unit, journal: journal)
        } onResult: { unit, outcome in
            guard case .success(let record) = outcome else { return }
            progress.finishUnit(rows: record.rows)
            results[unit.collection.name]!.rowsImported += record.rows
            if let t = record.importTask { results[unit.collection.name]!.tasks.append(t) }
        }
        progress.stop()
        if let first = failures.first {
            if case .interrupted = first.1 { throw MigrationError.interrupted }
            throw MigrationError.target(subject: "load", message: "\(failures.count) import(s) failed; completed ones are recorded and a rerun continues. First: \(first.1.description)")
        }

        // Counts: every partition and collection against the source's live rows.
        try await verifyCounts(meta: meta, units: active, journal: journal, results: &results)
        for c in meta.collections where !results[c.name]!.skipped {
            try await finish(c, target: results[c.name]!.target, results: &results[c.name]!)
        }
        return Result(collections: meta.collections.map { results[$0.name]! }, seconds: Date().timeIntervalSince(started), endpoint: client.endpoint)
    }

    /// Creates (or checks) the collection and its partitions; false when it is to be skipped.
    func prepare(_ c: SourceCollection, target: String, journal: JobJournal, units: [Unit]) async throws -> Bool {
        let schema = TargetSchema(idField: options.idField, vectorField: options.vectorField, vectorKind: c.vectorKind, dimension: c.dimension)
        let exists = try await client.hasCollection(target)
        let own = await journal.collection(target)
        let startedImports = units.contains { [.importing, .imported, .verified].contains($0.record.phase) }
        if exists, own != nil {
            // This job's own collection: resuming.
            try await checkSchema(target, schema)
        } else if exists {
            switch options.onExisting {
            case .fail:
                throw MigrationError.target(subject: "collection '\(target)'", message: "already exists in Milvus at \(client.endpoint); set target.milvus2x.onExisting to skip, append or drop")
            case .skip:
                return false
            case .append:
                try await checkSchema(target, schema)
                let before = try await client.rowCount(collection: target)
                try await journal.update(CollectionRecord(name: target, createdByJob: false, rowsBefore: before, updated: Date()))
            case .drop:
                logger.notice("dropping existing collection \(target) (onExisting: drop)")
                try await client.dropCollection(target)
                try await create(c, target: target, schema: schema, journal: journal)
            }
        } else {
            if own != nil && startedImports {
                throw MigrationError.target(subject: "collection '\(target)'", message: "this job imported into it before, but it no longer exists in Milvus at \(client.endpoint); remove \(staging.location)/\(JobJournal.fileName) to start the load over")
            }
            try await create(c, target: target, schema: schema, journal: journal)
        }
        for p in c.partitions where !p.isDefault {
            if try await !client.hasPartition(target, p.name) {
                try await client.createPartition(target, p.name)
            }
        }
        return true
    }

    func create(_ c: SourceCollection, target: String, schema: TargetSchema, journal: JobJournal) async throws {
        let description = "Migrated from Milvus \(c.version.isEmpty ? "1.x" : c.version) collection '\(c.name)' (metric \(c.metric?.name ?? "?"), index \(c.engine?.name ?? "?") \(c.indexParams)) by milvus-migration"
        try await client.createCollection(target, schema: schema, description: String(description.prefix(1000)), shards: options.shards)
        try await journal.update(CollectionRecord(name: target, createdByJob: true, rowsBefore: 0, updated: Date()))
    }

    func checkSchema(_ target: String, _ wanted: TargetSchema) async throws {
        let (found, text) = try await client.describeCollection(target)
        guard let found, found == wanted else {
            throw MigrationError.target(subject: "collection '\(target)'", message: "exists with another schema: Milvus has [\(found?.description ?? text)], the migration needs [\(wanted)]")
        }
    }

    /// Polls GetImportState with a short backoff (0.2 s growing to 2 s) until the task ends.
    func poll(_ task: Int64, unit: Unit) async throws -> ImportTaskStatus {
        let deadline = Date().addingTimeInterval(options.importTimeout)
        var delay = 0.2
        while true {
            let status = try await client.importState(task, subject: unit.subject)
            if status.state.isFinal { return status }
            guard Date() < deadline else {
                throw MigrationError.target(subject: unit.subject, message: "import task \(task) still \(status.state) after \(Int(options.importTimeout)) s (loader.worker.importTimeout); rerun load to keep waiting for it")
            }
            try await Task.sleep(for: .seconds(delay))
            delay = min(delay * 1.5, 2)
        }
    }

    /// Flushes and compares per-partition and per-collection row counts with the source.
    func verifyCounts(meta: SourceMeta, units: [Unit], journal: JobJournal, results: inout [String: CollectionResult]) async throws {
        let targets = Array(Set(units.map(\.target))).sorted()
        guard !targets.isEmpty else { return }
        try await client.flush(targets)
        var mismatches: [String] = []
        for c in meta.collections where !results[c.name]!.skipped {
            let target = results[c.name]!.target
            let own = await journal.collection(target)
            let before = own?.rowsBefore ?? 0
            let expected = before + c.partitions.reduce(Int64(0)) { $0 + $1.segments.reduce(0) { $0 + $1.rowCount } }
            let liveRows = units.filter { $0.collection.name == c.name }.reduce(Int64(0)) { $0 + $1.record.rows }
            let expectedLive = before + liveRows
            let actual = try await client.rowCount(collection: target)
            results[c.name]!.expectedRows = expectedLive
            results[c.name]!.actualRows = actual
            if actual != expectedLive {
                mismatches.append("collection '\(target)': Milvus has \(actual) rows, the source has \(expectedLive - before) live rows\(before > 0 ? " (+\(before) before the load)" : "")")
            }
            if expected != expectedLive {
                logger.info("collection \(c.name): meta row_count sum \(expected - before) differs from the live rows \(liveRows) (duplicate deletion offsets in ≤1.1.0); the live rows were migrated")
            }
            guard own?.createdByJob == true else { continue }
            for p in c.partitions {
                let want = units.filter { $0.collection.name == c.name && $0.partition.name == p.name }.reduce(Int64(0)) { $0 + $1.record.rows }
                let got = try await client.rowCount(collection: target, partition: p.name)
                if got != want {
                    mismatches.append("collection '\(target)' partition '\(p.name)': Milvus has \(got) rows, the source has \(want)")
                }
            }
        }
        if let first = mismatches.first {
            throw MigrationError.target(subject: "verification", message: "row counts differ (\(mismatches.count)): \(first)\(mismatches.count > 1 ? "; " + mismatches.dropFirst().joined(separator: "; ") : "")")
        }
    }

    /// Optional index creation and load.
    func finish(_ c: SourceCollection, target: String, results: inout CollectionResult) async throws {
        if options.createIndex || options.loadCollection {
            let mapping = try IndexMapping.forCollection(c)
            if let note = mapping.note { results.notes.append(note) }
            try await client.createIndex(collection: target, field: options.vectorField, indexType: mapping.indexType,
                                         metric: mapping.metric, params: mapping.params, timeout: options.importTimeout)
            results.notes.append("index \(mapping.indexType) \(mapping.metric) \(mapping.params)")
        }
        if options.loadCollection {
            try await client.loadCollection(target, timeout: options.importTimeout)
            results.notes.append("loaded")
        }
    }
}

extension LoadJob.Result {
    public var summary: String {
        var table = TextTable(headers: ["collection", "2.x collection", "segments", "imported now", "imported before", "rows in Milvus", "source live rows", "result"],
                              numeric: [2, 3, 4, 5, 6])
        for c in collections {
            let result = c.skipped ? "skipped" : (c.actualRows == c.expectedRows ? "ok" : "MISMATCH")
            table.add([c.source, c.target, String(c.segments), String(c.segments - c.alreadyImported), String(c.alreadyImported),
                       Format.count(c.actualRows), Format.count(c.expectedRows), result])
        }
        var out = table.render()
        for c in collections where !c.notes.isEmpty { out += "\n  \(c.target): \(c.notes.joined(separator: "; "))" }
        let imported = collections.reduce(0) { $0 + $1.segments - $1.alreadyImported }
        out += "\n\n" + (imported == 0 ? "Nothing to import: every segment was imported by an earlier run. " : "")
        out += "Row counts match the source. Milvus at \(endpoint), \(String(format: "%.1f", seconds)) s."
        return out
    }
}

extension LoadJob.Result {
    /// The `--report` JSON: per collection and partition the source rows, deleted rows skipped,
    /// target rows, segments, import task ids, duration and notes.
    public func json(plan: MigrationPlan?) -> JSONValue {
        .object([
            ("endpoint", .string(endpoint)),
            ("seconds", .double(seconds)),
            ("collections", .array(collections.map { c in
                let planned = plan?.collections.first { $0.source.name == c.source }
                var members: [(String, JSONValue)] = [
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
                    members.append(("deletedRowsSkipped", .int(planned.deletedRows)))
                    members.append(("partitions", .array(planned.partitions.map { p in
                        .object([("name", .string(p.source.name)), ("tag", .optional(p.source.tag)), ("sourceRows", .int(p.liveRows)),
                                 ("deletedRowsSkipped", .int(p.deletedRows)), ("segments", .integer(p.segments.count)),
                                 ("stagedBytes", .int(p.stagedBytes(planned.source)))])
                    })))
                }
                return .object(members)
            })),
        ])
    }
}
