import Foundation

/// `verify`: compares Milvus 2.x with the 1.x source. Collections and partitions must exist with
/// the expected schema and row counts, and the ids and vector bytes of sampled live rows (or of
/// every row with `full`) must be found in the right partition, read back with `Query`.
public struct Verifier: Sendable {
    public struct Options: Sendable {
        /// Rows sampled per collection; ignored when `full`.
        public var sample = 1000
        public var full = false
        /// Build the mapped index if missing and load collections that are not loaded.
        public var load = false
        public var idField = "id"
        public var vectorField = "data"
        public var seed: UInt64 = 0x5EED
        public var timeout: Double = 3600
        /// Query requests in flight per collection (the source is read while they run).
        public var queryParallelism = 4
        /// Rows per Query request, at most; fewer when rows are large (a request's answer stays
        /// near `queryBytes`, far below the gRPC message limits whatever the dimension).
        public var queryRows = 4000
        public var queryBytes = 4 << 20
        /// Queries read as of the collection's flush (consistency `Customized`) instead of
        /// `Strong`, which waits for the server's next time tick on every request.
        public var readAsOfFlush = true
        /// Progress lines on stderr (rows compared, rate, ETA; a line per index build and load).
        public var quiet = true

        public init() {}
    }

    // The report types live in Report/ (VerifyReport); these names are kept for callers.
    public typealias Mismatch = VerifyReport.Mismatch
    public typealias CollectionReport = VerifyReport.Collection
    public typealias Report = VerifyReport
    /// Mismatches kept (and printed) per collection; the rest are only counted.
    public static let keptMismatches = VerifyReport.keptMismatches

    public var plan: MigrationPlan
    public var source: any SourceStorage
    public var client: MilvusClient
    public var options: Options

    public init(plan: MigrationPlan, source: any SourceStorage, client: MilvusClient, options: Options) {
        self.plan = plan
        self.source = source
        self.client = client
        self.options = options
    }

    public func run() async throws -> Report {
        try plan.requireExecutable()
        var reports: [CollectionReport] = []
        let rule = try await client.capabilities().rowRule
        let progress = ProgressReporter(title: "verify", totalUnits: plan.collections.count, totalBytes: 0,
                                        totalRows: max(1, plan.collections.reduce(0) { $0 + rowsToCompare($1) }), quiet: options.quiet)
        progress.start()
        defer { progress.stop() }
        for c in plan.collections {
            reports.append(try await verify(c, rule: rule, progress: progress))
        }
        return Report(collections: reports, full: options.full)
    }

    /// Rows `verify` reads back from a collection: every live row with `full`, else the sample.
    func rowsToCompare(_ c: MigrationPlan.CollectionPlan) -> Int64 {
        options.full ? c.liveRows : min(c.liveRows, Int64(options.sample))
    }

    /// With `onePerPrimaryKey` (Milvus Lite keeps one row per primary key, the last write, and a
    /// row moves to the partition of that write) the collection must hold the source's distinct
    /// ids, partition counts are reported but not compared, rows are looked up in the whole
    /// collection, and an id the source repeats must be present (its vector is the last write's).
    func verify(_ c: MigrationPlan.CollectionPlan, rule: TargetCapabilities.RowRule = .everyRow,
                progress: ProgressReporter? = nil) async throws -> CollectionReport {
        let target = c.targetName
        var report = CollectionReport(source: c.source.name, target: target, sourceRows: c.liveRows)
        func fail(_ what: String, partition: String? = nil, id: Int64? = nil) {
            report.record(Mismatch(collection: target, partition: partition, id: id, what: what))
        }
        guard try await client.hasCollection(target) else {
            fail("does not exist in Milvus at \(client.endpoint)")
            return report
        }
        let wanted = TargetSchema(idField: options.idField, vectorField: options.vectorField, vectorKind: c.source.vectorKind, dimension: c.source.dimension)
        let (schema, text) = try await client.describeCollection(target)
        guard schema == wanted else {
            fail("schema differs: Milvus has [\(schema?.description ?? text)], expected [\(wanted)]")
            return report
        }
        // Rows are read as of this flush: every migrated row is older, and the queries need not
        // wait for the server's time tick as Strong ones do (0 = not reported: Strong).
        let flushedAt = try await client.flush([target], timeout: 120)[target]
        let seenAt = options.readAsOfFlush ? flushedAt : nil
        report.targetRows = try await client.rowCount(collection: target)
        var repeated = Set<Int64>()
        if rule == .onePerPrimaryKey {
            let distinct = try await DistinctIds.scan(c.segments, source: source, bufferBytes: 1 << 20)
            repeated = distinct.repeated
            report.sourceRows = distinct.count
            report.countsDistinctIds = true
            if report.targetRows != distinct.count {
                fail("the target has \(report.targetRows) rows, the source has \(distinct.count) distinct ids among \(c.liveRows) live rows (the target keeps one row per primary key)")
            }
        } else if report.targetRows != c.liveRows {
            fail("Milvus has \(report.targetRows) rows, the source has \(c.liveRows) live rows")
        }
        for p in c.partitions {
            guard try await client.hasPartition(target, p.source.name) else {
                fail("partition does not exist in Milvus", partition: p.source.name)
                continue
            }
            let count = try await client.rowCount(collection: target, partition: p.source.name)
            report.partitions.append((p.source.name, p.liveRows, count))
            if count != p.liveRows && rule == .everyRow { fail("Milvus has \(count) rows, the source has \(p.liveRows) live rows", partition: p.source.name) }
        }

        // Rows need a loaded collection.
        if options.load {
            if try await !client.hasIndex(collection: target, field: options.vectorField) {
                let mapping = try IndexMapping.forCollection(c.source)
                progress?.phase("collection '\(target)': building its \(mapping.indexType) index (rows are read once it is loaded)")
                try await client.createIndex(collection: target, field: options.vectorField, indexType: mapping.indexType,
                                             metric: mapping.metric, params: mapping.params, timeout: options.timeout)
            }
            progress?.phase("collection '\(target)': loading")
            try await client.loadCollection(target, timeout: options.timeout)
        }
        let batchRows = max(1, min(options.queryRows, options.queryBytes / max(1, c.source.bytesPerRow)))
        let lookup = RowLookup(client: client, collection: target, fields: (options.idField, options.vectorField), kind: c.source.vectorKind,
                               rule: rule, repeated: repeated, seenAt: seenAt)
        // Up to `queryParallelism` batches are compared while the source is read; results are
        // merged in batch order, so the mismatches kept (the first ones) do not depend on timing.
        // The window counts from the oldest batch not merged yet, so answers held for ordering
        // stay bounded too when an early batch is slow (BoundedWindow.ordered).
        try await BoundedWindow.ordered(width: options.queryParallelism, produce: { submit in
            var pending: [String: [(Int64, [UInt8])]] = [:]
            try await forEachSourceChunk(c, chunkRows: batchRows) { partition, rows in
                pending[partition, default: []] += rows
                if pending[partition]!.count >= batchRows {
                    let batch = pending.removeValue(forKey: partition)!
                    try await submit { try await lookup.compare(partition, batch) }
                }
            }
            for (partition, rows) in pending.sorted(by: { $0.key < $1.key }) where !rows.isEmpty {
                try await submit { try await lookup.compare(partition, rows) }
            }
        }, deliver: { outcome in
            report.rowsCompared += outcome.compared
            outcome.kept.forEach { report.record($0) }
            report.mismatchCount += outcome.more
            progress?.addRows(Int64(outcome.compared))
        })
        return report
    }

    /// One batch of source rows looked up in Milvus by id and compared byte for byte.
    struct RowLookup: Sendable {
        struct Outcome: Sendable {
            var compared = 0
            /// The first `keptMismatches` (the report keeps no more); the others are counted.
            var kept: [Mismatch] = []
            var more = 0
        }

        let client: MilvusClient
        let collection: String
        let fields: (id: String, vector: String)
        let kind: VectorKind
        let rule: TargetCapabilities.RowRule
        let repeated: Set<Int64>
        let seenAt: UInt64?

        func compare(_ partition: String, _ rows: [(Int64, [UInt8])]) async throws -> Outcome {
            let got: [(Int64, [UInt8])]
            do {
                got = try await client.query(collection: collection, idField: fields.id, vectorField: fields.vector,
                                             ids: Array(Set(rows.map(\.0))), partitions: rule == .everyRow ? [partition] : [], seenAt: seenAt)
            } catch let error as MigrationError where error.targetKind == .notLoaded {
                throw MigrationError.target(.notLoaded, subject: "collection '\(collection)'", message: "is not loaded, so rows cannot be read; rerun verify with --load (builds the mapped index if missing and loads the collection)")
            }
            var outcome = Outcome()
            func fail(_ what: @autoclosure () -> String, id: Int64) {
                if outcome.kept.count < Verifier.keptMismatches {
                    outcome.kept.append(Mismatch(collection: collection, partition: partition, id: id, what: what()))
                } else {
                    outcome.more += 1
                }
            }
            var found: [Int64: [[UInt8]]] = [:]
            for (id, vector) in got { found[id, default: []].append(vector) }
            for (id, vector) in rows {
                outcome.compared += 1
                guard let candidates = found[id] else {
                    fail("missing in Milvus", id: id)
                    continue
                }
                if let index = candidates.firstIndex(of: vector) {
                    if rule == .everyRow { found[id]!.remove(at: index) }
                } else if repeated.contains(id) {
                    // One row per primary key: another source row with this id was written last.
                } else {
                    fail("vector differs (source \(Verifier.describe(vector, kind: kind)), Milvus \(Verifier.describe(candidates[0], kind: kind)))", id: id)
                }
            }
            return outcome
        }
    }

    /// Streams the source rows to compare, a chunk at a time (memory stays at one chunk): every
    /// live row with `full`, otherwise a random sample (deterministic per seed and collection).
    func forEachSourceChunk(_ c: MigrationPlan.CollectionPlan, chunkRows: Int,
                            _ body: (String, [(Int64, [UInt8])]) async throws -> Void) async throws {
        let layouts = c.partitions.flatMap { p in p.segments.map { (p.source.name, $0) } }
        let total = layouts.reduce(Int64(0)) { $0 + $1.1.liveRows }
        guard total > 0 else { return }
        let everything = options.full || total <= Int64(options.sample)
        var picks: [Int64] = []
        if !everything {
            var rng = SplitMix(state: options.seed ^ c.source.name.utf8.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 })
            var set = Set<Int64>()
            while set.count < options.sample { set.insert(Int64(rng.next() % UInt64(total))) }
            picks = set.sorted()
        }
        var base: Int64 = 0
        var pickIndex = 0
        for (partition, layout) in layouts {
            let end = base + layout.liveRows
            defer { base = end }
            let ids = try await source.open(layout.idsFile)
            let vectors = try await source.open(layout.vectorsFile)
            func row(_ live: Int64) async throws -> (Int64, [UInt8]) {
                let physical = layout.deleted.physicalRow(live: live)
                let idBytes = try await ids.read(at: SegmentLayout.offset(ofRow: physical, rowBytes: 8), count: 8)
                let id = idBytes.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) }
                return (id, try await vectors.read(at: SegmentLayout.offset(ofRow: physical, rowBytes: layout.bytesPerRow), count: layout.bytesPerRow))
            }
            var rows: [(Int64, [UInt8])] = []
            if everything {
                // Sequential reads in chunks of physical rows, deleted rows skipped; both files
                // cover the same rows chunk by chunk.
                let bytesPerRow = layout.bytesPerRow
                let idRows = LiveRowReader(file: ids, rowBytes: 8, totalRows: layout.totalRows, deleted: layout.deleted, rowsPerChunk: chunkRows)
                let vectorRows = LiveRowReader(file: vectors, rowBytes: bytesPerRow, totalRows: layout.totalRows, deleted: layout.deleted, rowsPerChunk: chunkRows)
                while let idChunk = try await idRows.next(), let vectorChunk = try await vectorRows.next() {
                    for i in 0..<idChunk.liveRows {
                        let id = Int64(littleEndian: idChunk.bytes.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))
                        rows.append((id, Array(UnsafeRawBufferPointer(rebasing: vectorChunk.bytes[(i * bytesPerRow)..<((i + 1) * bytesPerRow)]))))
                    }
                    if rows.count >= chunkRows {
                        try await body(partition, rows)
                        rows.removeAll(keepingCapacity: true)
                    }
                }
            } else {
                while pickIndex < picks.count && picks[pickIndex] < end {
                    rows.append(try await row(picks[pickIndex] - base))
                    pickIndex += 1
                    if rows.count >= chunkRows {
                        try await body(partition, rows)
                        rows.removeAll(keepingCapacity: true)
                    }
                }
            }
            if !rows.isEmpty { try await body(partition, rows) }
        }
    }

    /// The physical row of the k-th live row, skipping the deleted rows.
    static func physicalRow(live k: Int64, deleted: DeletedOffsets) -> Int64 {
        deleted.physicalRow(live: k)
    }

    static func describe(_ bytes: [UInt8], kind: VectorKind) -> String {
        switch kind {
        case .binary:
            return "0x" + bytes.prefix(8).map { String(format: "%02x", $0) }.joined() + (bytes.count > 8 ? "…" : "")
        case .float:
            let values = stride(from: 0, to: min(bytes.count, 16), by: 4).map { i in
                Float(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
            }
            return "[" + values.map { "\($0)" }.joined(separator: ", ") + (bytes.count > 16 ? ", …" : "") + "]"
        }
    }

    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
