/// The 1.x meta rows a migrator needs, read in one transaction from SQLite or MySQL. Every
/// numeric column is read as a 64-bit integer (docs/FORMAT.md §4.1).
public struct MetaSnapshot: Sendable, Equatable {
    /// One `Tables` row: a root collection or a partition.
    public struct TableRow: Sendable, Equatable {
        public var id: Int64
        public var tableId: String
        public var state: Int64
        public var dimension: Int64
        public var createdOn: Int64
        public var flag: Int64
        public var indexFileSize: Int64
        public var engineType: Int64
        public var indexParams: String
        public var metricType: Int64
        public var ownerTable: String
        public var partitionTag: String
        public var version: String
        public var flushLSN: Int64

        public init(id: Int64, tableId: String, state: Int64, dimension: Int64, createdOn: Int64, flag: Int64,
                    indexFileSize: Int64, engineType: Int64, indexParams: String, metricType: Int64,
                    ownerTable: String, partitionTag: String, version: String, flushLSN: Int64) {
            self.id = id
            self.tableId = tableId
            self.state = state
            self.dimension = dimension
            self.createdOn = createdOn
            self.flag = flag
            self.indexFileSize = indexFileSize
            self.engineType = engineType
            self.indexParams = indexParams
            self.metricType = metricType
            self.ownerTable = ownerTable
            self.partitionTag = partitionTag
            self.version = version
            self.flushLSN = flushLSN
        }
    }

    /// One `TableFiles` row: a raw segment file set or an index file.
    public struct FileRow: Sendable, Equatable {
        public var id: Int64
        public var tableId: String
        public var segmentId: String
        public var engineType: Int64
        public var fileId: String
        public var fileType: Int64
        public var fileSize: Int64
        public var rowCount: Int64
        public var updatedTime: Int64
        public var createdOn: Int64
        public var date: Int64
        public var flushLSN: Int64

        public init(id: Int64, tableId: String, segmentId: String, engineType: Int64, fileId: String, fileType: Int64,
                    fileSize: Int64, rowCount: Int64, updatedTime: Int64, createdOn: Int64, date: Int64, flushLSN: Int64) {
            self.id = id
            self.tableId = tableId
            self.segmentId = segmentId
            self.engineType = engineType
            self.fileId = fileId
            self.fileType = fileType
            self.fileSize = fileSize
            self.rowCount = rowCount
            self.updatedTime = updatedTime
            self.createdOn = createdOn
            self.date = date
            self.flushLSN = flushLSN
        }
    }

    public var tables: [TableRow]
    public var files: [FileRow]
    /// Rows in `Fields` (experimental hybrid collections); reported, otherwise ignored.
    public var fieldRows: Int
    /// The file path or redacted server address the rows came from.
    public var origin: String

    public init(tables: [TableRow], files: [FileRow], fieldRows: Int = 0, origin: String) {
        self.tables = tables
        self.files = files
        self.fieldRows = fieldRows
        self.origin = origin
    }

    /// The SELECT lists shared by the SQLite and MySQL readers: columns by name, never by position.
    static let tableColumns = "id, table_id, state, dimension, created_on, flag, index_file_size, engine_type, index_params, metric_type, owner_table, partition_tag, version, flush_lsn"
    static let fileColumns = "id, table_id, segment_id, engine_type, file_id, file_type, file_size, row_count, updated_time, created_on, date, flush_lsn"
}

extension MetaSnapshot.TableRow {
    /// A `Tables` row through the shared typed decoding (NULL `version`/`flush_lsn` as in 0.9.x).
    init(_ r: MetaRowDecoder) throws {
        self.init(
            id: r.id, tableId: try r.text("table_id"), state: try r.int("state"), dimension: try r.int("dimension"),
            createdOn: try r.int("created_on"), flag: try r.int("flag"), indexFileSize: try r.int("index_file_size"),
            engineType: try r.int("engine_type"), indexParams: try r.text("index_params"), metricType: try r.int("metric_type"),
            ownerTable: try r.text("owner_table"), partitionTag: try r.text("partition_tag"),
            version: try r.text("version", default: ""), flushLSN: try r.int("flush_lsn", default: 0))
    }
}

extension MetaSnapshot.FileRow {
    /// A `TableFiles` row through the shared typed decoding (NULL `date`/`flush_lsn` as in 0.9.x).
    init(_ r: MetaRowDecoder) throws {
        self.init(
            id: r.id, tableId: try r.text("table_id"), segmentId: try r.text("segment_id"), engineType: try r.int("engine_type"),
            fileId: try r.text("file_id"), fileType: try r.int("file_type"), fileSize: try r.int("file_size"),
            rowCount: try r.int("row_count"), updatedTime: try r.int("updated_time"), createdOn: try r.int("created_on"),
            date: try r.int("date", default: -1), flushLSN: try r.int("flush_lsn", default: 0))
    }
}
