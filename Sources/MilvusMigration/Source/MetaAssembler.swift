/// Turns the raw 1.x meta rows into the source model, applying the liveness rules of
/// docs/FORMAT.md §5 and collecting every inconsistency as a diagnostic.
public enum MetaAssembler {
    public static func assemble(_ snapshot: MetaSnapshot) -> SourceMeta {
        var diagnostics: [Diagnostic] = []
        let origin = snapshot.origin

        if snapshot.fieldRows > 0 {
            diagnostics.append(.warning("meta \(origin)", "table Fields has \(snapshot.fieldRows) row(s) (experimental hybrid collections); their attribute columns are not migrated"))
        }

        let live = snapshot.tables.filter { $0.state == 0 }
        let roots = live.filter { $0.ownerTable.isEmpty }.sorted { $0.tableId < $1.tableId }
        let rootIds = Set(roots.map(\.tableId))
        var partitionsByRoot: [String: [MetaSnapshot.TableRow]] = [:]
        for row in live where !row.ownerTable.isEmpty {
            if rootIds.contains(row.ownerTable) {
                partitionsByRoot[row.ownerTable, default: []].append(row)
            } else {
                diagnostics.append(.warning("partition '\(row.partitionTag)' (table \(row.tableId))",
                                            "its collection '\(row.ownerTable)' is missing or dropped; skipped"))
            }
        }

        var filesByTable: [String: [MetaSnapshot.FileRow]] = [:]
        for file in snapshot.files { filesByTable[file.tableId, default: []].append(file) }

        var collections: [SourceCollection] = []
        for root in roots {
            let subject = "collection '\(root.tableId)'"
            var ok = true
            if !NameRules.isValidCollectionName(root.tableId) {
                diagnostics.append(.error(subject, "the name is not a valid collection name ([A-Za-z_][A-Za-z0-9_]*, at most 255 characters) and cannot be used as a folder name"))
                ok = false
            }
            let metric = Metric(rawValue: root.metricType)
            if metric == nil {
                diagnostics.append(.error(subject, "unknown metric_type \(root.metricType) (expected 1…7)"))
                ok = false
            }
            if let problem = dimensionProblem(root.dimension, kind: metric?.vectorKind ?? .float) {
                diagnostics.append(.error(subject, problem))
                ok = false
            }
            if EngineType(rawValue: root.engineType) == nil {
                diagnostics.append(.warning(subject, "unknown engine_type \(root.engineType); no index can be mapped for it"))
            }
            guard ok else { continue }

            let bytesPerRow = (metric?.vectorKind ?? .float).bytesPerRow(dimension: Int(root.dimension))
            var partitions = [SourcePartition(
                tableId: root.tableId, tag: nil, name: "_default",
                segments: segments(of: root.tableId, files: filesByTable[root.tableId] ?? [], bytesPerRow: bytesPerRow, diagnostics: &diagnostics))]

            var namesTaken: [String: String] = ["_default": "(default partition)"]
            let tagged = (partitionsByRoot[root.tableId] ?? []).sorted { $0.partitionTag < $1.partitionTag }
            for row in tagged {
                let partSubject = "\(subject) partition '\(row.partitionTag)'"
                guard NameRules.isNumericId(row.tableId) else {
                    diagnostics.append(.error(partSubject, "partition table id '\(row.tableId)' is not a plain numeric id; refusing to use it as a folder name"))
                    continue
                }
                if row.dimension != root.dimension || row.metricType != root.metricType {
                    diagnostics.append(.error(partSubject, "dimension/metric (\(row.dimension)/\(row.metricType)) differ from the collection's (\(root.dimension)/\(root.metricType))"))
                    continue
                }
                let name = NameRules.partitionName(forTag: row.partitionTag)
                if let other = namesTaken[name] {
                    let otherText = other == "(default partition)" ? "the default partition" : "tag '\(other)'"
                    diagnostics.append(.error(partSubject, "its 2.x partition name '\(name)' collides with \(otherText); rename one of the tags in 1.x before migrating"))
                    continue
                }
                namesTaken[name] = row.partitionTag
                partitions.append(SourcePartition(
                    tableId: row.tableId, tag: row.partitionTag, name: name,
                    segments: segments(of: row.tableId, files: filesByTable[row.tableId] ?? [], bytesPerRow: bytesPerRow, diagnostics: &diagnostics)))
            }

            collections.append(SourceCollection(
                name: root.tableId, dimension: Int(root.dimension), metricType: root.metricType,
                engineType: root.engineType, indexParams: root.indexParams, flag: root.flag,
                indexFileSize: root.indexFileSize, createdOn: root.createdOn, version: root.version,
                partitions: partitions))
        }
        limitTotals(&collections, &diagnostics)
        return SourceMeta(collections: collections, origin: origin, diagnostics: diagnostics)
    }

    /// The largest total of rows a meta may claim (live plus deleted, all collections): sums of
    /// row counts are then plain additions everywhere (reports, count checks), never a trap.
    static let maxTotalRows = Int64.max / 4

    /// A segment's `row_count`/`file_size` problem, if any: negative, or more rows than any file
    /// could hold (rows × bytes per row past 2^63).
    static func segmentSizeProblem(rowCount: Int64, fileSize: Int64, bytesPerRow: Int) -> String? {
        if rowCount < 0 || fileSize < 0 { return "negative row_count (\(rowCount)) or file_size (\(fileSize))" }
        let perRow = Int64(max(1, bytesPerRow)) + 8
        if rowCount > Int64.max / perRow {
            return "row_count \(rowCount) is impossible: that many rows of \(perRow) bytes exceed any file size"
        }
        return nil
    }

    /// Drops (with an error) every collection whose rows would push the meta's total past
    /// `maxTotalRows`, counting for each segment the larger of its live rows and the rows its
    /// `file_size` implies.
    static func limitTotals(_ collections: inout [SourceCollection], _ diagnostics: inout [Diagnostic]) {
        var total: Int64 = 0
        collections.removeAll { c in
            var sum = total
            for s in c.segments {
                let rows = max(s.rowCount, s.totalRows(bytesPerRow: c.bytesPerRow) ?? 0)
                let (next, overflow) = sum.addingReportingOverflow(rows)
                if overflow || next > maxTotalRows {
                    diagnostics.append(.error("collection '\(c.name)' segment '\(s.id)'",
                                              "row counts add up past \(maxTotalRows) rows; the meta is corrupt"))
                    return true
                }
                sum = next
            }
            total = sum
            return false
        }
    }

    /// The dimension rules for 1.x collections: positive, at most 32768, a multiple of 8 for binary.
    static func dimensionProblem(_ dimension: Int64, kind: VectorKind) -> String? {
        if dimension <= 0 { return "dimension \(dimension) is not positive" }
        if dimension > 32768 { return "dimension \(dimension) exceeds 32768" }
        if kind == .binary && dimension % 8 != 0 { return "binary dimension \(dimension) is not a multiple of 8 bits" }
        return nil
    }

    /// The live segments of one table: one raw-data carrier (RAW, TO_INDEX, BACKUP) per segment,
    /// cross-checked against the INDEX rows.
    private static func segments(of tableId: String, files: [MetaSnapshot.FileRow], bytesPerRow: Int, diagnostics: inout [Diagnostic]) -> [SourceSegment] {
        var carriers: [String: MetaSnapshot.FileRow] = [:]
        var indexed = Set<String>()
        var backups = Set<String>()
        for file in files {
            guard let type = FileType(rawValue: file.fileType) else {
                diagnostics.append(.warning("table '\(tableId)' file row \(file.id)", "unknown file_type \(file.fileType); ignored"))
                continue
            }
            if type == .index { indexed.insert(file.segmentId) }
            guard FileType.rawDataCarriers.contains(type) else { continue }
            let subject = "table '\(tableId)' segment '\(file.segmentId)'"
            guard NameRules.isNumericId(file.segmentId) else {
                diagnostics.append(.error(subject, "segment id is not a plain numeric id; refusing to use it as a folder name"))
                continue
            }
            if type == .backup { backups.insert(file.segmentId) }
            if let previous = carriers[file.segmentId] {
                diagnostics.append(.error(subject, "two raw-data rows (ids \(previous.id) and \(file.id)) claim the same segment"))
                continue
            }
            if let problem = segmentSizeProblem(rowCount: file.rowCount, fileSize: file.fileSize, bytesPerRow: bytesPerRow) {
                diagnostics.append(.error(subject, "\(problem) (TableFiles row id \(file.id))"))
                continue
            }
            carriers[file.segmentId] = file
        }
        for segment in indexed.subtracting(backups).sorted() {
            diagnostics.append(.warning("table '\(tableId)' segment '\(segment)'", "has an INDEX row but no BACKUP row; its raw files are not listed as live"))
        }
        for segment in backups.subtracting(indexed).sorted() {
            diagnostics.append(.warning("table '\(tableId)' segment '\(segment)'", "has a BACKUP row but no INDEX row"))
        }
        return carriers.values
            .sorted { segmentOrder($0.segmentId, $1.segmentId) }
            .map { SourceSegment(tableId: tableId, id: $0.segmentId, fileType: FileType(rawValue: $0.fileType),
                                 rowCount: $0.rowCount, fileSize: $0.fileSize, createdOn: $0.createdOn) }
    }

    /// Numeric ids ordered numerically (shorter first), then textually.
    static func segmentOrder(_ a: String, _ b: String) -> Bool {
        a.utf8.count != b.utf8.count ? a.utf8.count < b.utf8.count : a < b
    }
}
