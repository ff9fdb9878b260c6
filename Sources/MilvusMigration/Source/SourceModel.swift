/// The Milvus 1.x side of a migration as the meta describes it: live root collections, their
/// partitions and their live segments. Built from a `MetaSnapshot` (SQLite or MySQL rows) or
/// from a `meta.json`; it holds no vector data.
public struct SourceMeta: Sendable, Equatable {
    public var collections: [SourceCollection]
    /// Where the meta came from (a file path or a redacted MySQL address), for messages.
    public var origin: String
    /// Problems noticed while building the model (orphaned partitions, meta inconsistencies).
    public var diagnostics: [Diagnostic]

    public init(collections: [SourceCollection], origin: String, diagnostics: [Diagnostic] = []) {
        self.collections = collections
        self.origin = origin
        self.diagnostics = diagnostics
    }

    public var totalRows: Int64 { collections.reduce(0) { $0 + $1.rows } }

    public func collection(named name: String) -> SourceCollection? {
        collections.first { $0.name == name }
    }

    /// Keeps only the named collections; an unknown name is an error listing the known ones.
    public func selecting(_ names: [String]) throws -> SourceMeta {
        guard !names.isEmpty else { return self }
        let known = collections.map(\.name)
        for name in names where !known.contains(name) {
            throw MigrationError.usage(
                "--col: no collection '\(name)' in \(origin); known collections: \(known.isEmpty ? "(none)" : known.joined(separator: ", "))")
        }
        var copy = self
        copy.collections = collections.filter { names.contains($0.name) }
        return copy
    }
}

/// A live 1.x root collection (`Tables.state = 0`, `owner_table = ''`).
public struct SourceCollection: Sendable, Equatable {
    /// `Tables.table_id`: the user's collection name and its folder under `tables/`.
    public var name: String
    /// In bits for binary collections.
    public var dimension: Int
    /// The raw metric number; `metric` is nil when it is outside 1…7.
    public var metricType: Int64
    public var engineType: Int64
    /// `Tables.index_params`, JSON text such as `{"nlist":16384}`.
    public var indexParams: String
    public var flag: Int64
    public var indexFileSize: Int64
    public var createdOn: Int64
    public var version: String
    /// The default partition (the root's own segments) comes first, then the tagged ones in tag order.
    public var partitions: [SourcePartition]

    public init(name: String, dimension: Int, metricType: Int64, engineType: Int64 = 1, indexParams: String = "{}",
                flag: Int64 = 0, indexFileSize: Int64 = 1_073_741_824, createdOn: Int64 = 0, version: String = "",
                partitions: [SourcePartition]) {
        self.name = name
        self.dimension = dimension
        self.metricType = metricType
        self.engineType = engineType
        self.indexParams = indexParams
        self.flag = flag
        self.indexFileSize = indexFileSize
        self.createdOn = createdOn
        self.version = version
        self.partitions = partitions
    }

    public var metric: Metric? { Metric(rawValue: metricType) }
    public var engine: EngineType? { EngineType(rawValue: engineType) }
    /// Float unless the metric is one of the binary metrics (3–7).
    public var vectorKind: VectorKind { metric?.vectorKind ?? .float }
    public var bytesPerRow: Int { vectorKind.bytesPerRow(dimension: dimension) }
    public var segments: [SourceSegment] { partitions.flatMap(\.segments) }
    public var rows: Int64 { partitions.reduce(0) { $0 + $1.rows } }
}

/// Where a collection's rows land in 2.x: `_default` for the root's own segments, or a
/// partition created from a sanitized 1.x tag.
public struct SourcePartition: Sendable, Equatable {
    /// The `Tables.table_id` that owns the segment folders: the collection name for the default
    /// partition, a generated numeric id for a tagged one.
    public var tableId: String
    /// The 1.x `partition_tag`; nil for the default partition.
    public var tag: String?
    /// The 2.x partition name (`_default` or the sanitized tag).
    public var name: String
    public var segments: [SourceSegment]

    public init(tableId: String, tag: String?, name: String, segments: [SourceSegment]) {
        self.tableId = tableId
        self.tag = tag
        self.name = name
        self.segments = segments
    }

    public var isDefault: Bool { tag == nil }
    public var rows: Int64 { segments.reduce(0) { $0 + $1.rowCount } }
}

/// One live segment: the `TableFiles` row that carries its raw `.rv`/`.uid` files.
public struct SourceSegment: Sendable, Equatable {
    /// The owning table id (folder under `tables/`).
    public var tableId: String
    /// `TableFiles.segment_id`, the folder name.
    public var id: String
    /// RAW, TO_INDEX or BACKUP; nil when the meta came from a meta.json that does not say.
    public var fileType: FileType?
    /// Live rows according to the meta (`row_count`).
    public var rowCount: Int64
    /// `file_size`: payload bytes of vectors plus ids of all rows, deleted ones included.
    public var fileSize: Int64
    public var createdOn: Int64

    public init(tableId: String, id: String, fileType: FileType? = nil, rowCount: Int64, fileSize: Int64, createdOn: Int64 = 0) {
        self.tableId = tableId
        self.id = id
        self.fileType = fileType
        self.rowCount = rowCount
        self.fileSize = fileSize
        self.createdOn = createdOn
    }

    /// Total rows in the files (live + deleted) as implied by `file_size`, when it divides evenly.
    public func totalRows(bytesPerRow: Int) -> Int64? {
        let perRow = Int64(bytesPerRow + 8)
        guard perRow > 8, fileSize % perRow == 0 else { return nil }
        return fileSize / perRow
    }

    /// `tables/<tableId>/<segmentId>`, relative to the tables dir.
    public var relativeFolder: String { "\(tableId)/\(id)" }
}
