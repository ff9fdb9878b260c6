import Foundation
import Logging

/// `dump`: every live segment of a plan → NumPy files in the staging area, a sliding window of
/// `parallelism` segments at a time, journaled so a rerun (even after `kill -9`) skips what is
/// complete and redoes the rest.
public struct DumpJob: Sendable {
    public struct Options: Sendable {
        public var parallelism = 2
        public var bufferBytes = 1 << 20
        public var idField = "id"
        public var vectorField = "data"
        public var quiet = false

        public init() {}
    }

    public struct CollectionResult: Sendable {
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

    public struct Result: Sendable {
        public var collections: [CollectionResult]
        public var seconds: Double
        public var stagingLocation: String
        public var removedLeftovers: Int
    }

    public var plan: MigrationPlan
    public var source: any SourceStorage
    public var staging: any StagingArea
    public var options: Options
    let logger = Logger(label: "milvus-migration.dump")

    public init(plan: MigrationPlan, source: any SourceStorage, staging: any StagingArea, options: Options) {
        self.plan = plan
        self.source = source
        self.staging = staging
        self.options = options
    }

    /// One segment to stage and where its files go.
    public struct Unit: Sendable {
        public var collection: SourceCollection
        public var partition: SourcePartition
        public var layout: SegmentLayout
        public var key: String
        public var folder: String
        public var idPath: String
        public var vectorPath: String

        public var fingerprint: String {
            "\(layout.segment.tableId)/\(layout.segment.id) rows=\(layout.totalRows) deleted=\(layout.deleted.count) bytes=\(layout.sourceBytes)"
        }
    }

    /// The staging layout: `tables/<collection>/<segment>/` for the default partition (the
    /// reference tool's layout), `tables/<collection>/<partition>/<segment>/` for the others.
    public static func units(of plan: MigrationPlan, idField: String, vectorField: String) -> [Unit] {
        plan.collections.flatMap { c in
            c.partitions.flatMap { p in
                p.segments.map { layout in
                    let folder = p.source.isDefault
                        ? "tables/\(c.source.name)/\(layout.segment.id)"
                        : "tables/\(c.source.name)/\(p.source.name)/\(layout.segment.id)"
                    return Unit(collection: c.source, partition: p.source, layout: layout,
                                key: "\(c.source.name)/\(p.source.name)/\(layout.segment.id)", folder: folder,
                                idPath: "\(folder)/\(idField).npy", vectorPath: "\(folder)/\(vectorField).npy")
                }
            }
        }
    }

    public func run() async throws -> Result {
        try plan.requireExecutable()
        let removed = try await begin()
        let journal = try await JobJournal.open(staging)
        let units = DumpJob.units(of: plan, idField: options.idField, vectorField: options.vectorField)
        let totalBytes = units.reduce(Int64(0)) { $0 + $1.layout.sourceBytes - 16 }
        let progress = ProgressReporter(title: "dump", totalUnits: units.count, totalBytes: totalBytes, quiet: options.quiet)
        progress.start()
        defer { progress.stop() }

        var results: [String: CollectionResult] = [:]
        for c in plan.collections { results[c.source.name] = CollectionResult(collection: c.source.name) }
        let converter = SegmentConverter(source: source, staging: staging, bufferBytes: options.bufferBytes)
        let failures = try await BoundedWindow.run(units, width: options.parallelism) { unit in
            let started = Date()
            let (record, worked) = try await stage(unit, journal: journal, converter: converter, progress: progress)
            return (record, worked, started)
        } onResult: { unit, outcome in
            guard case .success(let (record, worked, started)) = outcome else { return }
            let name = unit.collection.name
            results[name]!.firstStart = min(results[name]!.firstStart ?? started, started)
            results[name]!.lastEnd = Date()
            progress.finishUnit(rows: record.rows)
            if worked { results[unit.collection.name]!.segments += 1 } else { results[unit.collection.name]!.skippedSegments += 1 }
            results[unit.collection.name]!.rows += record.rows
            results[unit.collection.name]!.deletedRows += record.deletedRows
            results[unit.collection.name]!.bytes += record.files.reduce(0) { $0 + $1.bytes }
        }
        if let first = failures.first {
            throw MigrationError.segment(file: "\(first.0.key)", message: "dump failed for \(failures.count) segment(s): \(first.1.description); completed segments are kept and a rerun continues from there")
        }
        return Result(collections: plan.collections.map { results[$0.source.name]! }, seconds: progress.elapsed,
                      stagingLocation: staging.location, removedLeftovers: removed)
    }

    /// Stages one segment unless the journal and the files show it is already staged intact.
    /// A segment whose rows are (or may be) in Milvus is never staged again: a re-dump could
    /// only lead to a second import. With `checkContent` (a resume about to import it) the kept
    /// files are also read back and compared with their recorded checksums.
    /// Returns the record and whether work was done.
    func stage(_ unit: Unit, journal: JobJournal, converter: SegmentConverter, progress: ProgressReporter,
               checkContent: Bool = false) async throws -> (SegmentRecord, Bool) {
        if let record = await journal.record(unit.key) {
            if !record.mayRestage {
                if record.sourceFingerprint != unit.fingerprint {
                    logger.warning("segment \(unit.key): the source changed since it was imported; it is not imported again (re-migrate into a new collection to pick up the change)")
                }
                progress.addBytes(unit.layout.sourceBytes - 16)
                return (record, false)
            }
            if record.step == .importStaged, record.sourceFingerprint == unit.fingerprint, try await intact(record, unit: unit) {
                if !checkContent {
                    progress.addBytes(unit.layout.sourceBytes - 16)
                    return (record, false)
                }
                if let problem = try await StagedFileCheck.firstProblem(record, staging: staging) {
                    logger.warning("\(problem.description); staging it again")
                } else {
                    progress.addBytes(unit.layout.sourceBytes - 16)
                    return (record, false)
                }
            }
        }
        do {
            let files = try await converter.convert(unit.layout, collection: unit.collection, idPath: unit.idPath,
                                                    vectorPath: unit.vectorPath, progress: { progress.addBytes($0) })
            let record = try await journal.apply(.staged(files: files, rows: unit.layout.liveRows, deletedRows: Int64(unit.layout.deleted.count),
                                                         fingerprint: unit.fingerprint), to: unit.key)
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

    /// Removes half-written files and writes meta.json of what is being migrated.
    func begin() async throws -> Int {
        try await staging.prepare()
        let removed = try await staging.removeLeftovers()
        if removed > 0 { logger.notice("removed \(removed) half-written file(s) left by an interrupted run") }
        let meta = SourceMeta(collections: plan.collections.map(\.source), origin: plan.metaOrigin)
        try await staging.writeSmallFile("meta.json", Array(MetaJSON.encode(meta).utf8))
        return removed
    }

    /// Whether a journaled segment's files are still there, complete, with the expected shape.
    func intact(_ record: SegmentRecord, unit: Unit) async throws -> Bool {
        let expected = [(unit.idPath, NumPyHeader.ids(rows: unit.layout.liveRows)),
                        (unit.vectorPath, NumPyHeader.vectors(rows: unit.layout.liveRows, kind: unit.collection.vectorKind, dimension: unit.collection.dimension))]
        guard record.files.map(\.path) == expected.map(\.0) else { return false }
        for ((path, header), file) in zip(expected, record.files) {
            guard let size = try await staging.size(of: path), size == file.bytes, size == header.fileSize else { return false }
            let prefix = try await staging.readPrefix(path, count: header.encoded().count)
            guard let parsed = try? NumPyFile.parse(prefix, file: path), parsed.header == header, !parsed.fortranOrder else { return false }
        }
        return true
    }
}

extension DumpJob.Result {
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

extension DumpJob.Result {
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
